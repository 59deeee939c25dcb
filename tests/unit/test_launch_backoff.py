"""The backoff of a job that found no launchable offer doubles per consecutive launch failure, not per attempt."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from orchestrator.jobs.attempts import AttemptState
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.provisioning.launcher import backoff_seconds, consecutive_launch_failures
from orchestrator.store.db import make_engine, make_session_factory, migrate, transaction
from orchestrator.store.tables import Attempt

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_job_preempted_many_times_starts_a_new_backoff_streak(tmp_path: Path) -> None:
    """Seen in a chaos run: a job with 11 attempts (most preempted or crashed) waited out a 300 s backoff on
    its first capacity miss, though its pools were blocked for 2 s. Only the trailing launch failures count."""
    engine = make_engine(f"sqlite:///{tmp_path / 'spotwise.db'}")
    migrate(engine)
    sessions = make_session_factory(engine)
    states = [AttemptState.PREEMPTED] * 9 + [AttemptState.LOST, AttemptState.LAUNCH_FAILED]
    with transaction(sessions) as s:
        job = submit(s, JobSpec(name="j", run="true", team="a"), now=T0)
        for n, state in enumerate(states, start=1):
            s.add(Attempt(id=f"{job.id}-{n}", job_id=job.id, number=n, idempotency_key=f"{job.id}-{n}",
                          state=state, provider="local", region="r", zone="z", instance_type="t", spot=True,
                          price_per_hour=1.0, offer={}, created_at=T0, end_reason="", launch_tries=1))
        s.flush()
        assert backoff_seconds(len(states)) == 300.0  # what the old attempt-count backoff made it wait
        assert consecutive_launch_failures(s, job.id) == 1
        assert backoff_seconds(consecutive_launch_failures(s, job.id)) == 10.0
    engine.dispose()
