"""Fixtures for costs, policies and alerts: a migrated SQLite file and rows made directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import AttemptState
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.store.db import make_engine, make_session_factory, migrate, transaction
from orchestrator.store.tables import Attempt, Instance

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'spotwise.db'}")
    migrate(engine)
    yield make_session_factory(engine)
    engine.dispose()


def running_job(s: Session, *, team: str = "a", project: str | None = None, price: float = 1.0,
                launched_at: datetime = T0, cloud: str = "local", region: str = "local-1",
                labels: dict[str, str] | None = None, instance_id: str | None = None) -> tuple[str, str, str]:
    """A job RUNNING on one instance: (job id, attempt id, instance id)."""
    job = submit(s, JobSpec(name="j", run="true", team=team, project=project, labels=labels or {}), now=launched_at)
    attempt_id = f"{job.id}-1"
    s.add(Attempt(id=attempt_id, job_id=job.id, number=1, idempotency_key=attempt_id, state=AttemptState.RUNNING,
                  provider=cloud, region=region, zone=region + "a", instance_type="gpu", spot=True,
                  price_per_hour=price, offer={}, created_at=launched_at, launched_at=launched_at,
                  started_at=launched_at, last_heartbeat_at=launched_at, end_reason="", launch_tries=1))
    s.flush()
    T.start_provisioning(s, job, attempt_id, "test")
    T.mark_running(s, job, attempt_id)
    iid = instance_id or f"i-{job.id}"
    s.add(Instance(id=iid, provider=cloud, attempt_id=attempt_id, job_id=job.id, region=region, zone=region + "a",
                   instance_type="gpu", spot=True, price_per_hour=price, state="running", launched_at=launched_at,
                   preempted=False))
    s.flush()
    return job.id, attempt_id, iid


def make_running(sessions: sessionmaker[Session], **kw: object) -> tuple[str, str, str]:
    with transaction(sessions) as s:
        return running_job(s, **kw)  # type: ignore[arg-type]
