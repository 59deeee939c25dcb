"""Every loop runs its items one by one: a row that raises is skipped (or its job failed), the others go on.

On the real store (SQLite file and PostgreSQL): two budget stops are due, one of team b's job in a state no stop can
finish from (as a bug or an old row could leave it); team a's stop is still finished and its job parked. Before,
the one row raised on every pass and no stop of any team finished (instances ran on past their grace).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.config import Settings
from orchestrator.jobs.attempts import create_attempt
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import job_by_id, submit
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.spending.stops import finish_due
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, StopRequest
from orchestrator.store.types import utcnow
from providers.base import Offer


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, database_url=db_url), with_providers=False)
    yield runtime
    runtime.close()


def _running_job_with_due_stop(rt: Runtime, team: str, state: str) -> tuple[str, str]:
    offer = Offer(cloud="local", region="local", zone="local-a", instance_type="cpu", gpu_model="", gpu_count=0,
                  vcpus=1, memory_gb=1, spot=False, price_per_hour=1.0, price_fetched_at=datetime.now(UTC))
    with transaction(rt.sessions) as s:
        job = submit(s, JobSpec.model_validate({"name": f"{team}-job", "team": team, "run": "sleep 600"}))
        attempt = create_attempt(s, job, offer)
        attempt.state, attempt.started_at = "RUNNING", utcnow()
        job.state, job.attempts_count = state, 1
        s.add(StopRequest(attempt_id=attempt.id, job_id=job.id, cause="budget", name="b", reason="budget b hit",
                          requested_at=utcnow() - timedelta(minutes=2), deadline=utcnow() - timedelta(minutes=1)))
        return job.id, attempt.id


def test_one_stop_that_raises_does_not_hold_back_the_others(rt: Runtime) -> None:
    broken_job, broken_attempt = _running_job_with_due_stop(rt, "b", "BLOCKED_BUDGET")  # cannot be blocked again
    good_job, good_attempt = _running_job_with_due_stop(rt, "a", "RUNNING")

    done = finish_due(rt.sessions, {})

    assert [f.job_id for f in done] == [good_job]
    with transaction(rt.sessions) as s:
        assert job_by_id(s, good_job).state == "BLOCKED_BUDGET"
        assert s.scalar(select(Attempt.state).where(Attempt.id == good_attempt)) == "PREEMPTED"
        assert s.get(StopRequest, good_attempt) is None
        assert s.get(StopRequest, broken_attempt) is not None  # left for a later pass (or an operator)
        assert job_by_id(s, broken_job).state == "BLOCKED_BUDGET"
