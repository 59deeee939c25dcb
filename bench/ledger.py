"""Ledger speed at scale: the budget sweep, an accrual pass and a cost report over 100k past instances.

    .venv/bin/python bench/ledger.py [--instances 100000] [--open 50] [--repeat 3] [--postgres URL]
                                     [--baseline-rev 98f9661]

"before" is the ledger and the budget sweep as they stood at --baseline-rev (`orchestrator/ledger.py`, `budgets.py`)
(read with `git show` and loaded as modules beside the current ones, the old sweep calling the old
ledger); "after" is the working tree. At 98f9661 the ledger loaded every instance row ever recorded
on each call and the sweep read every job row to match budget scopes in Python; now the ledger
aggregates in SQL and reads only pending instances, and the sweep matches scopes in SQL
(`budgets.scope_filter`, `ledger.scope_spend`). Pass --baseline-rev b123530 to see the scope
matching alone (that revision already had the SQL ledger).

The store is seeded through bulk inserts: one job per two attempts, each attempt one
instance that ran 5 min to 5 h in the past 60 days and is fully accrued (entries split at UTC
midnight, as accrual writes them), plus `--open` instances still running. Prints a table of the
median wall time per operation, before, after and the ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from orchestrator.spending import budget as budgets  # noqa: E402
from orchestrator.spending import ledger, policy_store  # noqa: E402
from orchestrator.store.db import make_engine, make_session_factory, migrate, transaction  # noqa: E402
from orchestrator.store.tables import Attempt, Instance, Job, LedgerEntry  # noqa: E402
from policies.budget import period_bounds  # noqa: E402

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TEAMS = ("vision", "nlp", "speech", "infra")
POLICY = """budgets:
  - name: vision-month
    scope: team:vision
    period: monthly
    limit_usd: 1000000
  - name: all-time
    scope: global
    period: total
    limit_usd: 100000000
  - name: nlp-day
    scope: team:nlp
    period: daily
    limit_usd: 100000
"""


#: Where each module the baseline revisions import lives now (orchestrator/ was flat then).
_OLD_NAMES = {"models": "jobs.models", "attempts": "jobs.attempts", "transitions": "jobs.transitions",
              "serialize": "jobs.serialize", "ledger": "spending.ledger", "ledger_sql": "spending.ledger_sql",
              "policy_store": "spending.policy_store", "policyfile": "spending.policyfile", "stops": "spending.stops"}


def _alias_old_module_names() -> None:
    import orchestrator
    for old, new in _OLD_NAMES.items():
        module = importlib.import_module(f"orchestrator.{new}")
        sys.modules.setdefault(f"orchestrator.{old}", module)
        if not hasattr(orchestrator, old):
            setattr(orchestrator, old, module)


def _module_at(rev: str, name: str) -> ModuleType:
    """`orchestrator/<name>.py` at `rev`, importable beside the current one as `<name>_before`.

    Revisions before the role folders import their siblings by their old top-level names, so those names are
    aliased to the modules' homes now while the old module loads."""
    _alias_old_module_names()
    source = subprocess.run(["git", "show", f"{rev}:orchestrator/{name}.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"{name}_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"{name}_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def baseline(rev: str) -> ModuleType:
    """The budget sweep at `rev` (then `orchestrator/budgets.py`), its `ledger` the ledger of that revision."""
    module = _module_at(rev, "budgets")
    setattr(module, "ledger", _module_at(rev, "ledger"))  # noqa: B010 - a module attribute mypy cannot see
    return module


def _rows(n: int, n_open: int, seed: int) -> dict[type, list[dict[str, Any]]]:
    rng = random.Random(seed)
    out: dict[type, list[dict[str, Any]]] = {Job: [], Attempt: [], Instance: [], LedgerEntry: []}
    for k in range(n + n_open):
        job_id, attempt_id, number = f"j{k // 2:07d}", f"a{k:07d}", k % 2 + 1
        team, price = rng.choice(TEAMS), rng.choice((0.35, 1.2, 2.9, 12.3))
        is_open = k >= n
        launched = NOW - (timedelta(minutes=rng.randint(1, 600)) if is_open
                          else timedelta(days=rng.uniform(0, 60), microseconds=rng.randint(0, 999999)))
        ended = None if is_open else min(NOW, launched + timedelta(seconds=rng.uniform(300, 5 * 3600)))
        if number == 1:  # two attempts per job
            out[Job].append(dict(id=job_id, name="train", team=team, project=None, state="RUNNING" if is_open
                                 else "SUCCEEDED", priority=0, spec={"name": "train", "run": "true", "team": team},
                                 version=1, submitted_at=launched, updated_at=ended or launched,
                                 attempts_count=number, restarts=0, reason=""))
        out[Attempt].append(dict(id=attempt_id, job_id=job_id, number=number, idempotency_key=attempt_id,
                                 state="RUNNING" if is_open else "SUCCEEDED", provider="aws", region="us-east-1",
                                 zone="us-east-1a", instance_type="g5.xlarge", spot=True, price_per_hour=price,
                                 offer={}, created_at=launched, launched_at=launched, ended_at=ended,
                                 end_reason="", launch_tries=1))
        out[Instance].append(dict(id=f"i-{k:07d}", provider="aws", attempt_id=attempt_id, job_id=job_id,
                                  region="us-east-1", zone="us-east-1a", instance_type="g5.xlarge", spot=True,
                                  price_per_hour=price, state="running" if is_open else "terminated",
                                  launched_at=launched, ended_at=ended, preempted=False))
        if ended is not None:
            for seg in ledger.split_days(launched, ledger.whole_seconds_until(launched, ended)):
                if seg.seconds > 0:
                    out[LedgerEntry].append(dict(
                        provider="aws", instance_id=f"i-{k:07d}", attempt_id=attempt_id, job_id=job_id, team=team,
                        project=None, region="us-east-1", start=seg.start, end=seg.end, price_per_hour=price,
                        cost_usd=ledger.cost_of(price, seg.seconds)))
    return out


def seed(url: str, n: int, n_open: int, seed_value: int) -> sessionmaker[Session]:
    engine = make_engine(url)
    migrate(engine)
    sessions = make_session_factory(engine)
    rows = _rows(n, n_open, seed_value)
    with transaction(sessions) as s:
        for table in (Job, Attempt, Instance, LedgerEntry):
            batch = rows[table]
            for i in range(0, len(batch), 5000):
                s.execute(insert(table), batch[i:i + 5000])
        policy_store.apply(s, POLICY)
    if engine.dialect.name == "postgresql":  # what autovacuum would have done to a store this old
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return sessions


def scratch_postgres(server_url: str) -> str:
    name = "spotwise_bench_ledger_" + secrets.token_hex(4)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server_url.rpartition('/')[0]}/{name}"


def drop_postgres(url: str) -> None:
    base, _, name = url.rpartition("/")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def operations(sessions: sessionmaker[Session], mod: ModuleType) -> dict[str, Callable[[], object]]:
    """What runs every interval (sweep, accrual) and on demand (report), with `mod` as the budgets
    module (and `mod.ledger` as the ledger): the current one or the baseline's."""
    def spends() -> object:  # the sweep's scope matching and ledger calls alone: one spend per budget
        with transaction(sessions) as s:
            policy = policy_store.current_policy(s)
            if hasattr(mod, "spend_by_budget"):  # pending accrual selected once for every budget
                return mod.spend_by_budget(s, policy.budgets, NOW)
            jobs = None if hasattr(mod, "scope_filter") else list(s.scalars(select(Job)))
            for b in policy.budgets:
                since = period_bounds(b.period, b.timezone, NOW)[0]
                if jobs is None:  # matched in SQL
                    mod.ledger.scope_spend(s, mod.scope_filter(b.scope), since, NOW)
                else:  # every job row read and matched in Python, as the old sweep did
                    mod.ledger.spend(s, [j.id for j in jobs if mod.in_scope(b.scope, j)], since, NOW)
        return None

    def pending() -> object:
        with transaction(sessions) as s:
            return mod.ledger.pending_instances(s)

    def report() -> object:
        with transaction(sessions) as s:
            return mod.ledger.report(s, "team", since=NOW - timedelta(days=30), now=NOW)

    return {
        "budget sweep (3 budgets), whole": lambda: mod.sweep_budgets(sessions, {}, 30.0, now=NOW, grace_s=1.0),
        "  of which scopes + ledger spend x3": spends,
        "accrual pass: pending_instances": pending,
        "report by team, last 30 days": report,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instances", type=int, default=100_000, help="closed, fully accrued instances")
    p.add_argument("--open", type=int, default=50, help="instances still running")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--postgres", default="", help="also run on this PostgreSQL server (e.g. postgresql+psycopg://"
                   "postgres@127.0.0.1:5432/test): a scratch database is created there and dropped after")
    p.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True, help="run on a SQLite file")
    p.add_argument("--baseline-rev", default="98f9661",
                   help="git revision whose budgets.py and ledger.py are 'before'")
    args = p.parse_args()
    before = baseline(args.baseline_rev)
    urls = [("sqlite", f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}")] if args.sqlite else []
    if args.postgres:
        urls.append(("postgresql", scratch_postgres(args.postgres)))
    print(f"{args.instances:,} historical instances + {args.open} open; median of {args.repeat}", flush=True)
    print(f"{'store':<11} {'operation':<36} {'before s':>9} {'after s':>9} {'ratio':>7}")
    for name, url in urls:
        try:
            t0 = time.perf_counter()
            sessions = seed(url, args.instances, args.open, args.seed)
            print(f"# {name}: seeded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            ops = {label: operations(sessions, module) for label, module in (("before", before), ("after", budgets))}
            for op in ops["after"]:  # before and after in turn, so both see the same load
                runs: dict[str, list[float]] = {"before": [], "after": []}
                failed: dict[str, str] = {}
                for _ in range(args.repeat):
                    for label in ("before", "after"):
                        if label in failed:
                            continue
                        try:
                            runs[label].append(timed(ops[label][op], 1))
                        except DBAPIError as exc:  # the old code's IN list of every instance id: too many parameters
                            failed[label] = str(exc.orig).splitlines()[0][:60]
                cells = {k: f"{statistics.median(v):>9.3f}" if v else f"{'failed':>9}" for k, v in runs.items()}
                ratio = (f"{statistics.median(runs['before']) / statistics.median(runs['after']):>6.1f}x"
                         if runs["before"] and runs["after"] else f"{'-':>7}")
                note = "; ".join(f"{k}: {v}" for k, v in failed.items())
                print(f"{name:<11} {op:<36} {cells['before']} {cells['after']} {ratio}  {note}".rstrip(), flush=True)
            sessions.kw["bind"].dispose()
        finally:
            if name == "postgresql":
                drop_postgres(url)


if __name__ == "__main__":
    main()
