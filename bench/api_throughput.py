"""API and queue benchmark (BENCHMARKS.md section 3): submissions/s and p50/p99 latency, and `jobs list` at 100k.

Real `spotwise serve` subprocesses (SQLite, or PostgreSQL with one and three replicas) with no cloud
provider enabled, so placement costs nothing and the API is what is measured; the load generator is
a separate process (`api_throughput.py loadgen`) running N concurrent clients (asyncio + httpx, one
keep-alive connection and team token each, clients spread round-robin over the replicas).

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
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.cli.demo import free_port, start_daemon, stop_daemon, wait_healthy  # noqa: E402

TOKEN = "bench-admin-" + secrets.token_hex(8)
SPEC = {"name": "bench", "team": "bench", "run": "python train.py", "resources": {"accelerators": "A100:1"}}


# -- load generator (its own process) ------------------------------------------------------------

async def _client(url: str, token: str, stop_at: float, warm_until: float, lat: list[float]) -> None:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        while (now := time.perf_counter()) < stop_at:
            r = await c.post("/v1/jobs", json=SPEC)
            done = time.perf_counter()
            r.raise_for_status()
            if now >= warm_until:
                lat.append(done - now)


async def _loadgen(urls: list[str], clients: int, seconds: float, warmup: float) -> dict[str, float]:
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    lat: list[float] = []
    await asyncio.gather(*[_client(urls[i % len(urls)], TOKENS[i % len(TOKENS)], stop_at, warm_until, lat)
                           for i in range(clients)])
    lat.sort()
    return {"clients": clients, "requests": len(lat), "per_s": len(lat) / seconds,
            "p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))]}


TOKENS: list[str] = []


def loadgen_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--urls", required=True)
    p.add_argument("--token", required=True, help="comma-separated; client i uses token i mod len")
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    a = p.parse_args(argv)
    TOKENS[:] = a.token.split(",")
    print(json.dumps(asyncio.run(_loadgen(a.urls.split(","), a.clients, a.seconds, a.warmup))))


# -- orchestration ---------------------------------------------------------------------------------

class Cluster:
    """N replicas on one database, each a `spotwise serve` subprocess with its own home."""

    def __init__(self, database_url: str, replicas: int, root: Path) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        for i in range(replicas):
            home = root / f"r{i}"
            home.mkdir(parents=True)
            (home / "config.yaml").write_text(yaml.safe_dump({
                "database_url": database_url, "admin_token": TOKEN, "providers": {}, "log_level": "warning"}))
            port = free_port()
            self.procs.append(start_daemon(home, port, {"SPOTWISE_RECONCILE_INTERVAL_SECONDS": "2"}))
            self.urls.append(f"http://127.0.0.1:{port}")
        for i, (url, proc) in enumerate(zip(self.urls, self.procs, strict=True)):
            try:
                wait_healthy(url, proc, timeout=120)
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


def run_load(urls: list[str], clients: int, seconds: float) -> dict[str, float]:
    tokens = client_tokens(urls[0], clients)
    out = subprocess.run([sys.executable, __file__, "loadgen", "--urls", ",".join(urls), "--token", ",".join(tokens),
                          "--clients", str(clients), "--seconds", str(seconds)],
                         capture_output=True, text=True, check=True, timeout=seconds + 120)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


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
             list_jobs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="spotwise-bench-") as tmp:
        if database_url.startswith("sqlite"):
            database_url = f"sqlite:///{tmp}/spotwise.db"
        cluster = Cluster(database_url, replicas, Path(tmp))
        try:
            result: dict[str, Any] = {"db": label, "replicas": replicas, "load": []}
            for n in clients:
                row = run_load(cluster.urls, n, seconds)
                result["load"].append(row)
                print(f"{label:8} replicas={replicas} clients={n:2d}: {row['per_s']:7.0f} submissions/s  "
                      f"p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms", flush=True)
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
    a = p.parse_args()
    clients = [int(c) for c in a.clients.split(",")]
    results = [scenario("sqlite", "sqlite", 1, clients, a.seconds, a.list_jobs)]
    print("sqlite   replicas=3: refused by design (SQLite allows one daemon; see orchestrator/leases.py)")
    if not a.no_postgres:
        for replicas in (1, 3):
            url, drop = fresh_postgres(a.postgres)
            try:
                results.append(scenario("postgres", url, replicas, clients, a.seconds,
                                        a.list_jobs if replicas == 1 else 0))
            finally:
                drop()
    if a.out:
        a.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
