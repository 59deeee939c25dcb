"""The store on SQLite and PostgreSQL: migrations, queue order, claims, transitions, idempotent logs."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from orchestrator.jobs import transitions as T
from orchestrator.jobs.models import JobSpec, JobState
from orchestrator.jobs.queue import claim_runnable, list_jobs, submit
from orchestrator.store.db import make_engine, make_session_factory, migrate, transaction
from orchestrator.store.tables import Base, Job, JobEvent
from orchestrator.store.types import utcnow


@pytest.fixture
def sessions(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    migrate(engine)
    yield make_session_factory(engine)
    engine.dispose()


def spec(name: str, priority: int = 0, team: str = "a") -> JobSpec:
    return JobSpec(name=name, run="true", priority=priority, team=team)


def test_migrations_are_idempotent_and_match_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # a second start (or a second replica) changes nothing
    assert {"jobs", "attempts", "instances", "job_events", "api_tokens", "log_chunks", "meta"} <= set(
        inspect(engine).get_table_names())
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    engine.dispose()


def test_claims_follow_priority_then_fifo(sessions) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        for name, prio in [("low-1", 0), ("high-1", 5), ("low-2", 0), ("high-2", 5), ("urgent", 9)]:
            submit(s, spec(name, prio))
    with transaction(sessions) as s:
        order = [j.name for j in claim_runnable(s, 10)]
    assert order == ["urgent", "high-1", "high-2", "low-1", "low-2"]


def test_backoff_hides_a_job_until_not_before(sessions) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        job = submit(s, spec("waits"))
        T.wait_for_capacity(s, job, "no capacity", utcnow() + timedelta(minutes=5))
    with transaction(sessions) as s:
        assert claim_runnable(s, 10) == []
        assert [j.name for j in claim_runnable(s, 10, now=utcnow() + timedelta(minutes=6))] == ["waits"]


def test_transitions_are_recorded_and_illegal_ones_refused(sessions) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        job = submit(s, spec("t"))
        T.start_provisioning(s, job, f"{job.id}-1", "cheapest offer")
        T.mark_running(s, job, f"{job.id}-1")
        T.mark_succeeded(s, job, f"{job.id}-1")
        with pytest.raises(T.TransitionRefused):
            T.cancel(s, job, "too late")
        job_id = job.id
    with transaction(sessions) as s:
        events = [(e.from_state, e.to_state) for e in s.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))]
    assert events == [(None, "PENDING"), ("PENDING", "PROVISIONING"), ("PROVISIONING", "RUNNING"),
                      ("RUNNING", "SUCCEEDED")]


def test_a_stale_writer_loses_the_transition(sessions) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        job_id = submit(s, spec("race")).id
    with transaction(sessions) as s:
        stale = s.scalar(select(Job).where(Job.id == job_id))
    with transaction(sessions) as s:
        fresh = s.scalar(select(Job).where(Job.id == job_id))
        T.cancel(s, fresh, "user cancel")
    with pytest.raises(T.TransitionRefused), transaction(sessions) as s:
        s.add(stale)  # the reconcile loop still holds the old version
        T.start_provisioning(s, stale, f"{job_id}-1", "placement")
    with transaction(sessions) as s:
        assert s.scalar(select(Job.state).where(Job.id == job_id)) == JobState.CANCELLED


def test_concurrent_claims_never_share_a_job(sessions, db_url: str) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        for i in range(40):
            submit(s, spec(f"j{i}"))
    claimed: list[list[str]] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        mine: list[str] = []
        barrier.wait()
        while True:
            with transaction(sessions) as s:
                jobs = claim_runnable(s, 3)
                if not jobs:
                    break
                for job in jobs:
                    T.start_provisioning(s, job, f"{job.id}-1", "claimed")
                    mine.append(job.id)
        claimed.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [j for mine in claimed for j in mine]
    assert len(everything) == 40 and len(set(everything)) == 40


def test_team_filter_and_paging(sessions) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        for i in range(5):
            submit(s, spec(f"a{i}", team="a"))
            submit(s, spec(f"b{i}", team="b"))
    with transaction(sessions) as s:
        first = list_jobs(s, team="a", limit=3)
        second = list_jobs(s, team="a", limit=3, before_seq=first[-1].seq)
    assert [j.name for j in first] == ["a4", "a3", "a2"]
    assert [j.name for j in second] == ["a1", "a0"]
