"""The cost ledger: per-second accrual, price changes, restarts (SIGKILL included), attribution."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.spending import ledger
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Instance, Job, JobEvent, LedgerEntry
from tests.spending.conftest import T0, make_running, running_job


def total(sessions: sessionmaker[Session]) -> float:
    with transaction(sessions) as s:
        return float(s.scalar(select(func.coalesce(func.sum(LedgerEntry.cost_usd), 0.0))) or 0.0)


def test_per_second_accrual_counts_each_second_once(sessions: sessionmaker[Session]) -> None:
    make_running(sessions, price=3.6)  # $0.001 per second
    for seconds in (10, 10, 25.7, 60, 60):  # repeated and fractional passes
        ledger.accrue(sessions, now=T0 + timedelta(seconds=seconds))
    assert abs(total(sessions) - 0.060) < 1e-9


def test_price_change_charges_each_second_at_its_price(sessions: sessionmaker[Session]) -> None:
    _, _, iid = make_running(sessions, price=3.6)
    ledger.accrue(sessions, now=T0 + timedelta(seconds=30))
    with transaction(sessions) as s:
        row = s.scalars(select(Instance)).one()
        ledger.reprice(s, row, 7.2, at=T0 + timedelta(seconds=100))
    ledger.accrue(sessions, now=T0 + timedelta(seconds=200))
    assert abs(total(sessions) - (100 * 0.001 + 100 * 0.002)) < 1e-9


def test_closed_instance_accrues_to_its_end_and_no_further(sessions: sessionmaker[Session]) -> None:
    make_running(sessions, price=3.6)
    with transaction(sessions) as s:
        s.scalars(select(Instance)).one().ended_at = T0 + timedelta(seconds=42)
    ledger.accrue(sessions, now=T0 + timedelta(hours=5))
    ledger.accrue(sessions, now=T0 + timedelta(hours=6))
    assert abs(total(sessions) - 0.042) < 1e-9


def test_attribution_and_day_split(sessions: sessionmaker[Session]) -> None:
    late = T0.replace(hour=23, minute=0)
    make_running(sessions, team="vision", project="p1", price=1.0, launched_at=late, cloud="aws", region="us-east-1")
    make_running(sessions, team="nlp", price=2.0, launched_at=late, cloud="gcp", region="europe-west4")
    ledger.accrue(sessions, now=late + timedelta(hours=2))
    with transaction(sessions) as s:
        by_team = {r["team"]: r["cost_usd"] for r in ledger.report(s, "team", now=late + timedelta(hours=2))}
        by_day = {r["day"]: r["cost_usd"] for r in ledger.report(s, "day", now=late + timedelta(hours=2))}
        by_cloud = {r["cloud"]: r["cost_usd"] for r in ledger.report(s, "cloud", now=late + timedelta(hours=2))}
        by_region = {r["region"] for r in ledger.report(s, "region", now=late + timedelta(hours=2))}
        by_project = {r["project"] for r in ledger.report(s, "project", now=late + timedelta(hours=2))}
    assert by_team == {"vision": 2.0, "nlp": 4.0}
    assert by_day == {"2026-03-01": 3.0, "2026-03-02": 3.0}
    assert by_cloud == {"aws": 2.0, "gcp": 4.0}
    assert by_region == {"us-east-1", "europe-west4"} and by_project == {"p1", "-"}


def test_report_includes_unaccrued_seconds(sessions: sessionmaker[Session]) -> None:
    make_running(sessions, price=3600.0)
    ledger.accrue(sessions, now=T0 + timedelta(seconds=5))
    with transaction(sessions) as s:
        rows = ledger.report(s, "job", now=T0 + timedelta(seconds=12))
    assert rows[0]["cost_usd"] == 12.0  # 5 accrued + 7 not yet written


def test_sigkill_during_accrual_loses_and_doubles_nothing(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    for i in range(20):
        make_running(sessions, price=3.6 + i, team=f"t{i % 3}")
    url = str(sessions.kw["bind"].url)
    code = ("import time; from datetime import timedelta; from orchestrator.spending import ledger;"
            "from orchestrator.store.db import make_engine, make_session_factory;"
            f"f = make_session_factory(make_engine({url!r})); from tests.spending.conftest import T0\n"
            "n = 0\nwhile True:\n    n += 1; ledger.accrue(f, now=T0 + timedelta(seconds=n * 7))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    deadline = time.monotonic() + 20
    while total(sessions) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert total(sessions) > 0
    end = T0 + timedelta(days=2)
    ledger.accrue(sessions, now=end)
    expected = sum((3.6 + i) * 2 * 24 for i in range(20))
    assert abs(total(sessions) - expected) < 1e-6


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    instances=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 5000), st.integers(0, 90000),
                                 st.floats(0.01, 50.0), st.lists(st.tuples(st.integers(1, 90000),
                                                                           st.floats(0.01, 50.0)), max_size=3)),
                       min_size=1, max_size=6),
    passes=st.lists(st.integers(0, 200000), max_size=6),
)
def test_team_totals_equal_the_sum_of_instance_costs(sessions: sessionmaker[Session], instances: list, passes: list
                                                     ) -> None:
    with transaction(sessions) as s:
        for model in (LedgerEntry, Instance, Attempt, JobEvent, Job):
            s.execute(delete(model))
    expected: dict[str, float] = defaultdict(float)
    changes = []
    for n, (team, start, life, price, reprices) in enumerate(instances):
        launched = T0 + timedelta(seconds=start)
        with transaction(sessions) as s:
            _, _, iid = running_job(s, team=team, price=price, launched_at=launched, instance_id=f"i{n}")
            s.get(Instance, (iid, "local")).ended_at = launched + timedelta(seconds=life)  # type: ignore[union-attr]
        points = sorted({min(at, life) for at, _ in reprices})
        prices = [price] + [p for _, p in sorted(reprices, key=lambda r: r[0])][:len(points)]
        bounds = [0, *points, life]
        for (a, b), p in zip(zip(bounds, bounds[1:], strict=False), prices, strict=False):
            expected[team] += p * (b - a) / 3600.0
        changes += [(launched + timedelta(seconds=at), iid, p) for at, p in zip(points, prices[1:], strict=False)]
    events = sorted([(T0 + timedelta(seconds=p), None, 0.0) for p in passes] + changes, key=lambda e: e[0])
    for at, iid, new_price in events:  # passes and price changes interleaved in time
        if iid is None:
            ledger.accrue(sessions, now=at)
        else:
            with transaction(sessions) as s:
                row = s.get(Instance, (iid, "local"))
                assert row is not None
                ledger.reprice(s, row, new_price, at=at)
    ledger.accrue(sessions, now=T0 + timedelta(days=3))
    with transaction(sessions) as s:
        got = {r["team"]: r["cost_usd"] for r in ledger.report(s, "team", now=T0 + timedelta(days=3))}
    assert set(got) == {t for t, c in expected.items() if c > 0} | (set(got) & set(expected))
    for team, cost in expected.items():
        assert abs(got.get(team, 0.0) - cost) < 1e-4 * max(1.0, cost)
