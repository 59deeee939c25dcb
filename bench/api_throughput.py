"""API and queue benchmark (BENCHMARKS.md section 3): submissions/s and p50/p99 latency, and `jobs list` at 100k.

Real `spotwise serve` subprocesses (SQLite, or PostgreSQL with one and three replicas) with no cloud
provider enabled, so placement costs nothing and the API is what is measured; the load generator is
a separate process (`api_throughput.py loadgen`) running N concurrent clients (uvloop, one keep-alive
HTTP/1.1 connection and team token each, clients spread round-robin over the replicas; `--client httpx` for
httpx instead). Each point also prints the CPU time per submission of the servers (every replica, loops
included), of the load generator and of the PostgreSQL backends: on a shared machine throughput moves with
everything else that runs, the CPU a submission costs much less.

    .venv/bin/python bench/api_throughput.py                      # everything (about 3 minutes)
    .venv/bin/python bench/api_throughput.py --seconds 3 --list-jobs 20000 --no-postgres
Targets on a 2-core machine: >= 500 submissions/s on one replica with p99 < 100 ms at 8 clients;
`jobs list` first page < 100 ms with 100,000 jobs queued.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, insert, text
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.cli.demo import free_port, start_daemon, stop_daemon, wait_healthy  # noqa: E402

TOKEN = "bench-admin-" + secrets.token_hex(8)
SPEC = {"name": "bench", "team": "bench", "run": "python train.py", "resources": {"accelerators": "A100:1"}}


# -- load generator (its own process) ------------------------------------------------------------

class _Conn:
    """One keep-alive HTTP/1.1 connection that posts the same pre-encoded request over and over.

    Why not httpx: the load generator shares the 2 cores with the server, and httpx spent about 1 ms of CPU per
    request building and parsing (measured with `--client httpx`), CPU the server then lacked: the benchmark
    measured its own client. This sends the request bytes made once and reads back the status line, the headers
    and exactly Content-Length bytes of body (the API always sends one); any status but 201 stops the run.
    """

    def __init__(self, url: str, token: str) -> None:
        self.host, _, port = url.removeprefix("http://").partition(":")
        self.port = int(port)
        body = json.dumps(SPEC).encode()
        self.request = (f"POST /v1/jobs HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
                        f"authorization: Bearer {token}\r\ncontent-type: application/json\r\n"
                        f"content-length: {len(body)}\r\n\r\n").encode() + body

    async def run(self, stop_at: float, warm_until: float, lat: list[float], total: list[int]) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            while (now := time.perf_counter()) < stop_at:
                writer.write(self.request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                done = time.perf_counter()
                if head[9:12] != b"201":
                    raise SystemExit(f"submission failed: {head.decode(errors='replace')}{body[:500]!r}")
                total[0] += 1
                if now >= warm_until:
                    lat.append(done - now)
        finally:
            writer.close()


async def _httpx_client(url: str, token: str, stop_at: float, warm_until: float, lat: list[float],
                        total: list[int]) -> None:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        while (now := time.perf_counter()) < stop_at:
            r = await c.post("/v1/jobs", json=SPEC)
            done = time.perf_counter()
            r.raise_for_status()
            total[0] += 1
            if now >= warm_until:
                lat.append(done - now)


async def _loadgen(urls: list[str], clients: int, seconds: float, warmup: float, kind: str) -> dict[str, float]:
    start = time.perf_counter()
    cpu_start = time.process_time()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    lat: list[float] = []
    total = [0]  # every submission, warm-up included: the CPU figures are per submission over the whole run
    runs = [(_Conn(urls[i % len(urls)], TOKENS[i % len(TOKENS)]).run(stop_at, warm_until, lat, total)
             if kind == "raw" else
             _httpx_client(urls[i % len(urls)], TOKENS[i % len(TOKENS)], stop_at, warm_until, lat, total))
            for i in range(clients)]
    await asyncio.gather(*runs)
    lat.sort()
    return {"clients": clients, "requests": len(lat), "per_s": len(lat) / seconds,
            "p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "all_requests": total[0], "client_cpu_ms": 1000 * (time.process_time() - cpu_start) / max(1, total[0])}


TOKENS: list[str] = []


def loadgen_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--urls", required=True)
    p.add_argument("--token", required=True, help="comma-separated; client i uses token i mod len")
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--client", choices=["raw", "httpx"], default="raw")
    a = p.parse_args(argv)
    TOKENS[:] = a.token.split(",")
    main = _loadgen(a.urls.split(","), a.clients, a.seconds, a.warmup, a.client)
    try:
        import uvloop  # the server's loop too (a pyproject dependency off Windows)
        result = uvloop.run(main)
    except ImportError:
        result = asyncio.run(main)
    print(json.dumps(result))


# -- orchestration ---------------------------------------------------------------------------------

class Cluster:
    """N replicas on one database, each a `spotwise serve` subprocess with its own home."""

    def __init__(self, database_url: str, replicas: int, root: Path) -> None:
        self.database_url = database_url
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        shared_keys = {"agent-token.key": secrets.token_hex(32), "secrets.key": Fernet.generate_key().decode()}
        try:  # a replica that started is stopped again whatever fails after it (none is left running)
            for i in range(replicas):
                home = root / f"r{i}"
                home.mkdir(parents=True)
                (home / "config.yaml").write_text(yaml.safe_dump({
                    "database_url": database_url, "admin_token": TOKEN, "providers": {}, "log_level": "warning",
                    # The per-token limit (500/s by default) still runs on every request, but one client alone now
                    # goes faster than it allows: raised, so a 1-client point measures the API, not the limiter.
                    "api_rate_limit_per_second": 100_000, "api_rate_limit_burst": 100_000}))
                for key, value in shared_keys.items():  # one set for all replicas, as a deployment mounts one secret
                    (home / key).write_text(value + "\n")
                    (home / key).chmod(0o600)
                port = free_port()
                self.procs.append(start_daemon(home, port, {"SPOTWISE_RECONCILE_INTERVAL_SECONDS": "2"}))
                self.urls.append(f"http://127.0.0.1:{port}")
                if i == 0:  # the first one sets up the fresh database alone (replicas racing to do it can collide)
                    self._wait(root, 0)
            for i in range(1, replicas):
                self._wait(root, i)
        except BaseException:
            self.stop()
            raise

    def _wait(self, root: Path, i: int) -> None:
        try:
            wait_healthy(self.urls[i], self.procs[i], timeout=120)
        except Exception:
            self.stop()
            log = (root / f"r{i}" / "daemon.log").read_text()[-2000:]
            raise SystemExit(f"replica {i} did not start; the end of its log:\n{log}") from None

    def stop(self) -> None:
        for proc in self.procs:
            stop_daemon(proc)


def client_tokens(url: str, clients: int) -> list[str]:
    """One team token per client, as separate users would have: the API's rate limit is per token (500/s by
    default), so one token shared by every client would measure the limiter, not the API."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as c:
        return [c.post("/v1/tokens", json={"team": SPEC["team"], "name": f"bench client {i}"}).raise_for_status()
                .json()["token"] for i in range(clients)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def postgres_backends(database_url: str) -> list[int]:
    """Process ids of the PostgreSQL backends serving `database_url`'s database (none for SQLite)."""
    if database_url.startswith("sqlite"):
        return []
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [int(p) for p in conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalars()]
    finally:
        engine.dispose()


def run_load(cluster: Cluster, clients: int, seconds: float, client: str = "raw") -> dict[str, float]:
    """One load point; adds the CPU per submission of the servers (every replica, loops included) and of the
    PostgreSQL backends serving them, so a change can be judged by the CPU it costs and not only by throughput,
    which moves with whatever else runs on the machine."""
    tokens = client_tokens(cluster.urls[0], clients)
    before = {p.pid: cpu_seconds(p.pid) for p in cluster.procs}
    db_before = {pid: cpu_seconds(pid) for pid in postgres_backends(cluster.database_url)}
    out = subprocess.run([sys.executable, __file__, "loadgen", "--urls", ",".join(cluster.urls), "--token",
                          ",".join(tokens), "--clients", str(clients), "--seconds", str(seconds), "--client", client],
                         capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode != 0:
        raise SystemExit(f"the load generator failed:\n{out.stderr[-2000:]}")
    row: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    used = sum(cpu_seconds(pid) - was for pid, was in before.items())
    db_used = sum(cpu_seconds(pid) - db_before.get(pid, 0.0) for pid in postgres_backends(cluster.database_url))
    row["server_cpu_ms"] = 1000 * used / max(1, row["all_requests"])
    row["db_cpu_ms"] = 1000 * db_used / max(1, row["all_requests"])
    return row


def fresh_postgres(base: str) -> tuple[str, Any]:
    name = "spotwise_bench_" + secrets.token_hex(4)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return base.rpartition("/")[0] + "/" + name, drop


def fill_queue(database_url: str, count: int) -> float:
    """Insert `count` PENDING jobs straight into the store (as `count` submissions would leave them)."""
    from orchestrator.store.tables import Job
    engine = create_engine(database_url)
    now = time_now()
    started = time.perf_counter()
    batch = 5000
    with engine.begin() as conn:
        for first in range(0, count, batch):
            conn.execute(insert(Job), [dict(
                id="j-" + secrets.token_hex(5), name=f"q{i}", team="bench", project=None, state="PENDING",
                priority=0, spec=SPEC, version=0, submitted_at=now, updated_at=now, deadline_at=None,
                attempts_count=0, restarts=0, reason="") for i in range(first, min(count, first + batch))])
    engine.dispose()
    return time.perf_counter() - started


def time_now() -> Any:
    from orchestrator.store.types import utcnow
    return utcnow()


def time_list(url: str, repeats: int = 30) -> dict[str, float]:
    """First page of `jobs list` over the API (what the CLI calls), and the CLI command end to end."""
    times = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as c:
        c.get("/v1/jobs").raise_for_status()
        for _ in range(repeats):
            t = time.perf_counter()
            r = c.get("/v1/jobs")
            times.append(time.perf_counter() - t)
            r.raise_for_status()
        rows = len(r.json()["items"])
    env = {**os.environ, "SPOTWISE_URL": url, "SPOTWISE_TOKEN": TOKEN}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "orchestrator", "jobs", "list"], env=env, check=True,
                   capture_output=True, cwd=ROOT, timeout=120)
    cli = time.perf_counter() - t
    times.sort()
    return {"rows": rows, "api_p50_ms": 1000 * statistics.median(times),
            "api_p99_ms": 1000 * times[min(len(times) - 1, int(len(times) * 0.99))], "cli_total_ms": 1000 * cli}


def scenario(label: str, database_url: str, replicas: int, clients: list[int], seconds: float,
             list_jobs: int, client: str = "raw") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="spotwise-bench-") as tmp:
        if database_url.startswith("sqlite"):
            database_url = f"sqlite:///{tmp}/spotwise.db"
        cluster = Cluster(database_url, replicas, Path(tmp))
        try:
            result: dict[str, Any] = {"db": label, "replicas": replicas, "load": []}
            for n in clients:
                row = run_load(cluster, n, seconds, client)
                result["load"].append(row)
                print(f"{label:8} replicas={replicas} clients={n:2d}: {row['per_s']:7.0f} submissions/s  "
                      f"p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms  CPU per submission: server "
                      f"{row['server_cpu_ms']:.2f} ms, client {row['client_cpu_ms']:.2f} ms"
                      + (f", PostgreSQL {row['db_cpu_ms']:.2f} ms" if label == "postgres" else ""), flush=True)
            if list_jobs:
                fill = fill_queue(database_url, list_jobs)
                listed = time_list(cluster.urls[0])
                result["list"] = {"queued_added": list_jobs, "fill_s": fill, **listed}
                print(f"{label:8} jobs list, {list_jobs:,} more queued: API first page p50 {listed['api_p50_ms']:.1f}"
                      f" ms p99 {listed['api_p99_ms']:.1f} ms; `spotwise jobs list` {listed['cli_total_ms']:.0f} ms"
                      " (CLI process included)", flush=True)
            return result
        finally:
            cluster.stop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "loadgen":
        loadgen_main(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per point (after 1 s warm-up)")
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--list-jobs", type=int, default=100_000, help="jobs queued for the `jobs list` timing")
    p.add_argument("--postgres", default=os.environ.get("SPOTWISE_TEST_POSTGRES_URL",
                                                        "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    p.add_argument("--no-postgres", action="store_true")
    p.add_argument("--out", type=Path, help="write the figures as JSON")
    p.add_argument("--client", choices=["raw", "httpx"], default="raw",
                   help="load generator: pre-encoded HTTP/1.1 (default) or httpx (to see what a heavier client costs)")
    p.add_argument("--replicas", default="1,3", help="PostgreSQL replica counts to run")
    a = p.parse_args()
    clients = [int(c) for c in a.clients.split(",")]
    results = [scenario("sqlite", "sqlite", 1, clients, a.seconds, a.list_jobs, a.client)]
    print("sqlite   replicas=3: refused by design (SQLite allows one daemon; see orchestrator/leases.py)")
    if not a.no_postgres:
        for replicas in (int(r) for r in a.replicas.split(",")):
            url, drop = fresh_postgres(a.postgres)
            try:
                results.append(scenario("postgres", url, replicas, clients, a.seconds,
                                        a.list_jobs if replicas == 1 else 0, a.client))
            finally:
                drop()
    if a.out:
        a.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
