"""Fair queue: how long one team's feasible job takes to be placed behind another team's infeasible backlog.

    .venv/bin/python bench/fair_queue.py [--jobs 1000 10000] [--repeat 3]

Team b queues N jobs nothing can place (H100:8 at most $0.01/h, priority 1000); then team a submits one L4:1 job.
Each row runs the production reconcile pass (Reconciler.run_once, a scriptable fake cloud with an L4 and an
H100:8 offer) until team a's job has an attempt, on a SQLite file and, when SPOTWISE_TEST_POSTGRES_URL (or
SPOTWISE_BENCH_POSTGRES_URL) is set, on a throwaway PostgreSQL database. Reported: passes, the time from team
a's submission to its placement, one pass's time, and the claim query alone (median of --repeat).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from orchestrator.config import Settings  # noqa: E402
from orchestrator.jobs.models import JobSpec  # noqa: E402
from orchestrator.jobs.queue import claim_runnable, insert_submissions, job_by_id, submit, submit_values  # noqa: E402
from orchestrator.provisioning.launcher import CLAIM_BATCH  # noqa: E402
from orchestrator.provisioning.reconcile import Reconciler  # noqa: E402
from orchestrator.runtime import Runtime, build_runtime  # noqa: E402
from orchestrator.store.db import transaction  # noqa: E402
from orchestrator.store.types import utcnow  # noqa: E402
from tests.e2e.wheel import agent_wheel_env  # noqa: E402
from tests.fakes.provider import FakeProvider, make_offer  # noqa: E402

HOG = {"name": "hog", "team": "b", "priority": 1000, "run": "true",
       "resources": {"accelerators": "H100:8", "max_price_per_hour": 0.01}}
FEASIBLE = {"name": "fair", "team": "a", "run": "true", "resources": {"accelerators": "L4:1"}}


@contextmanager
def postgres_database() -> Iterator[str | None]:
    base = os.environ.get("SPOTWISE_BENCH_POSTGRES_URL") or os.environ.get("SPOTWISE_TEST_POSTGRES_URL")
    if not base:
        yield None
        return
    name = "spotwise_bench_" + secrets.token_hex(4)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def runtime(home: Path, url: str) -> Runtime:
    wheel = agent_wheel_env(home).get("SPOTWISE_AGENT_WHEEL", "")  # built once per tree, not inside a timed pass
    rt = build_runtime(Settings(home=home, database_url=url, providers={}, agent_wheel=wheel), with_providers=False)
    rt.providers = {"fake": FakeProvider("fake", [  # type: ignore[dict-item]
        make_offer("fake", "f1-a", 0.40, gpu="L4"),
        make_offer("fake", "f1-a", 40.0, gpu="H100", count=8, instance_type="gpu.huge")])}
    return rt


def one_run(rt: Runtime, n: int) -> dict[str, float]:
    spec = JobSpec.model_validate(HOG)
    now = utcnow()
    with rt.engine.begin() as conn:
        for start in range(0, n, 1000):
            insert_submissions(conn, [submit_values(spec, now) for _ in range(min(1000, n - start))])
    claims = []
    for _ in range(3):  # the claim query alone, rolled back: nothing changes
        with rt.sessions() as s:
            t0 = time.perf_counter()
            claim_runnable(s, CLAIM_BATCH)
            claims.append(time.perf_counter() - t0)
            s.rollback()
    reconciler = Reconciler(rt)
    reconciler.run_once()  # warm the offer cache (a daemon's first pass does too); the hogs now hold the head
    with transaction(rt.sessions) as s:
        fair = submit(s, JobSpec.model_validate(FEASIBLE)).id
    passes, placed, started = 0, False, time.perf_counter()
    while not placed and passes < 50:
        reconciler.run_once()
        passes += 1
        with transaction(rt.sessions) as s:
            placed = job_by_id(s, fair).state == "PROVISIONING"
    return {"passes": passes, "placed": float(placed), "to_place_s": time.perf_counter() - started,
            "claim_ms": statistics.median(claims) * 1000}


def bench(label: str, url_for: Callable[[Path], str], n: int, repeat: int) -> str:
    rows = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            rt = runtime(Path(tmp), url_for(Path(tmp)))
            try:
                t0 = time.perf_counter()
                result = one_run(rt, n)
                result["total_s"] = time.perf_counter() - t0
                rows.append(result)
            finally:
                rt.close()
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    placed = "yes" if all(r["placed"] for r in rows) else "NO"
    return (f"| {label} | {n:,} | {placed} | {med['passes']:.0f} | {med['claim_ms']:.1f} ms | "
            f"{med['to_place_s'] * 1000:.0f} ms |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, nargs="+", default=[1000, 10_000])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    print("| store | infeasible jobs ahead | placed | passes | claim query | submit -> placed (passes) |")
    print("|---|---|---|---|---|---|")
    for n in args.jobs:
        print(bench("SQLite", lambda home: f"sqlite:///{home / 'spotwise.db'}", n, args.repeat), flush=True)
    with postgres_database() as pg:
        if pg is None:
            print("(PostgreSQL: set SPOTWISE_TEST_POSTGRES_URL to add its rows)")
            return
        for n in args.jobs:
            def fresh(_: Path) -> str:
                engine = create_engine(pg, isolation_level="AUTOCOMMIT")
                with engine.connect() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
                engine.dispose()
                return pg
            print(bench("PostgreSQL", fresh, n, args.repeat), flush=True)


if __name__ == "__main__":
    main()
