"""The ledger's SQL aggregates equal a straightforward Python sum over every row, on SQLite and PostgreSQL.

The reference below is the ledger as it was before the aggregation moved into SQL: load every
stored entry and every instance, find pending instances by the watermark rule in Python, add
what accrual would write now, then filter and sum in Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.spending import ledger
from orchestrator.store.db import make_engine, make_session_factory, migrate, transaction
from orchestrator.store.tables import Attempt, Instance, Job, JobEvent, LedgerEntry
from tests.spending.conftest import T0, running_job

DAY = 86400


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    migrate(engine)
    yield make_session_factory(engine)
    engine.dispose()


def reference_pending(s: Session) -> list[Instance]:
    rows = list(s.scalars(select(Instance)))
    ends: dict[tuple[str, str], datetime] = {}
    for e in s.scalars(select(LedgerEntry)):
        key = (e.provider, e.instance_id)
        ends[key] = max(ends.get(key, e.end), e.end)
    return [r for r in rows if r.ended_at is None
            or (r.ended_at - max(r.launched_at, ends.get((r.provider, r.id), r.launched_at))).total_seconds() >= 1]


def reference_entries(s: Session, now: datetime) -> list[LedgerEntry]:
    return list(s.scalars(select(LedgerEntry))) + ledger.unaccrued(s, reference_pending(s), now)


def reference_key(e: LedgerEntry, by: str) -> str:
    return {"team": e.team, "project": e.project or "-", "job": e.job_id, "attempt": e.attempt_id,
            "cloud": e.provider, "region": e.region, "day": e.start.date().isoformat(),
            "instance": f"{e.provider}/{e.instance_id}"}[by]


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


instance = st.tuples(
    st.sampled_from(["a", "b", "c"]), st.sampled_from([None, "p1", "p2"]),
    st.integers(0, 3 * DAY), st.integers(0, 999999),  # launch: second and microsecond
    st.one_of(st.none(), st.floats(0.0, 2 * DAY)),  # lifetime; None = still running
    st.floats(0.01, 50.0), st.sampled_from(["aws", "gcp"]),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(instance, min_size=1, max_size=8), passes=st.lists(st.integers(0, 5 * DAY), max_size=3),
       now_s=st.integers(0, 6 * DAY), since_s=st.one_of(st.none(), st.integers(0, 5 * DAY)),
       span_s=st.one_of(st.none(), st.integers(1, 3 * DAY)), team=st.sampled_from([None, "a", "b"]),
       picked=st.sets(st.integers(0, 7)))
def test_sql_aggregates_equal_python_sums(sessions: sessionmaker[Session], rows: list, passes: list, now_s: int,
                                          since_s: int | None, span_s: int | None, team: str | None,
                                          picked: set[int]) -> None:
    with transaction(sessions) as s:
        for model in (LedgerEntry, Instance, Attempt, JobEvent, Job):
            s.execute(delete(model))
    jobs = []
    with transaction(sessions) as s:
        for n, (tm, project, start, micros, life, price, cloud) in enumerate(rows):
            launched = T0 + timedelta(seconds=start, microseconds=micros)
            job_id, _, iid = running_job(s, team=tm, project=project, price=price, launched_at=launched,
                                         cloud=cloud, region=f"{cloud}-r{n % 2}", instance_id=f"i{n}")
            if life is not None:
                s.get(Instance, (iid, cloud)).ended_at = launched + timedelta(seconds=life)  # type: ignore[union-attr]
            jobs.append(job_id)
    for p in sorted(passes):
        ledger.accrue(sessions, now=T0 + timedelta(seconds=p))
    now = T0 + timedelta(seconds=now_s)
    since = None if since_s is None else T0 + timedelta(seconds=since_s)
    until = None if since is None or span_s is None else since + timedelta(seconds=span_s)
    ids = {jobs[i] for i in picked if i < len(jobs)}
    with transaction(sessions) as s:
        entries = reference_entries(s, now)
        assert {(r.provider, r.id) for r in ledger.pending_instances(s)} == {
            (r.provider, r.id) for r in reference_pending(s)}
        for by in ledger.GROUPS:
            want: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
            for e in entries:
                if ((since is None or e.start >= since) and (until is None or e.start < until)
                        and (team is None or e.team == team)):
                    want[reference_key(e, by)][0] += e.cost_usd
                    want[reference_key(e, by)][1] += (e.end - e.start).total_seconds()
            got = {str(r[by]): r for r in ledger.report(s, by, since=since, until=until, team=team, now=now)}
            assert set(got) == set(want), by
            for key, (cost, secs) in want.items():
                assert close(float(str(got[key]["cost_usd"])), cost) and close(
                    float(str(got[key]["instance_hours"])), secs / 3600), (by, key)
        for scope in (None, ids):
            want_spend = sum(e.cost_usd for e in entries if (scope is None or e.job_id in scope)
                             and (since is None or e.start >= since))
            assert close(ledger.spend(s, scope, since, now), want_spend)
        for by in ("job", "attempt"):
            want_charges: dict[str, float] = defaultdict(float)
            for e in entries:
                if e.job_id in ids:
                    want_charges[e.job_id if by == "job" else e.attempt_id] += e.cost_usd
            got_charges = ledger.charges(s, by, ids, now)
            assert set(got_charges) == set(want_charges)
            assert all(close(got_charges[k], v) for k, v in want_charges.items())


def test_sub_millisecond_edges_are_exact(sessions: sessionmaker[Session]) -> None:
    """0.4 ms short of a whole second: a millisecond-rounding comparison (SQLite's julianday) would
    call a 0.9996 s tail a whole second and keep that instance pending for ever."""
    late = T0.replace(hour=23, minute=59, second=58, microsecond=999600)
    with transaction(sessions) as s:
        running_job(s, price=3600.0, launched_at=T0, instance_id="tail")
        s.get(Instance, ("tail", "local")).ended_at = T0 + timedelta(seconds=2.9996)  # type: ignore[union-attr]
        running_job(s, price=3600.0, launched_at=late, instance_id="midnight")
        s.get(Instance, ("midnight", "local")).ended_at = late + timedelta(seconds=2.5)  # type: ignore[union-attr]
    for hours in (1, 2):  # the second pass charges the second after midnight (cut short by the first)
        ledger.accrue(sessions, now=late + timedelta(hours=hours))
    with transaction(sessions) as s:
        assert ledger.pending_instances(s) == []
        by_day = {r["day"]: (r["cost_usd"], r["instance_hours"]) for r in ledger.report(s, "day", now=late)}
        assert {r["instance"]: r["cost_usd"] for r in ledger.report(s, "instance", now=late)} == {
            "local/tail": 2.0, "local/midnight": 2.0}
    assert by_day == {"2026-03-01": (3.0, round(3.0004 / 3600, 6)), "2026-03-02": (1.0, round(1 / 3600, 6))}
