"""The job state machine: one function per legal transition, each recorded as an event.

A transition is a conditional UPDATE on the job's `version`, so two writers (an API handler and
the reconcile loop, or two replicas) can never both move a job from the same state: the loser
gets `TransitionRefused` and re-reads on its next pass.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from orchestrator.jobs.models import JobState
from orchestrator.store.tables import Job, JobEvent
from orchestrator.store.types import utcnow

S = JobState
ACTIVE_FROM = (S.PENDING, S.PROVISIONING, S.RUNNING, S.PREEMPTED, S.WAITING_CAPACITY, S.BLOCKED_BUDGET)

LEGAL: dict[JobState, frozenset[JobState]] = {
    S.PENDING: frozenset({S.PROVISIONING, S.WAITING_CAPACITY, S.BLOCKED_BUDGET, S.FAILED, S.CANCELLED}),
    S.PROVISIONING: frozenset(
        {S.RUNNING, S.SUCCEEDED, S.FAILED, S.PREEMPTED, S.WAITING_CAPACITY, S.CANCELLED}
    ),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.PREEMPTED, S.CANCELLED}),
    S.PREEMPTED: frozenset({S.PROVISIONING, S.WAITING_CAPACITY, S.BLOCKED_BUDGET, S.FAILED, S.CANCELLED}),
    S.WAITING_CAPACITY: frozenset({S.PROVISIONING, S.BLOCKED_BUDGET, S.FAILED, S.CANCELLED}),
    S.BLOCKED_BUDGET: frozenset({S.PENDING, S.FAILED, S.CANCELLED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}


class TransitionRefused(Exception):
    """The transition is illegal from the job's state, or another writer moved the job first."""


def record_event(
    session: Session, job_id: str, reason: str, *, kind: str = "note", attempt_id: str | None = None,
    from_state: str | None = None, to_state: str | None = None, at: datetime | None = None,
) -> None:
    session.add(JobEvent(job_id=job_id, at=at or utcnow(), from_state=from_state, to_state=to_state,
                         attempt_id=attempt_id, kind=kind, reason=reason))


def _move(session: Session, job: Job, to: JobState, why: str, attempt_id: str | None = None,
          **fields: object) -> None:
    current = JobState(job.state)
    if to not in LEGAL[current]:
        raise TransitionRefused(f"job {job.id} cannot go from {current} to {to}")
    now = utcnow()
    values = {"state": to.value, "version": job.version + 1, "updated_at": now, **fields}
    result = session.execute(
        update(Job).where(Job.id == job.id, Job.version == job.version).values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise TransitionRefused(f"job {job.id} changed concurrently; not moving it to {to}")
    for key, value in values.items():
        setattr(job, key, value)
    record_event(session, job.id, why, kind="transition", attempt_id=attempt_id,
                 from_state=current.value, to_state=to.value, at=now)


def start_provisioning(session: Session, job: Job, attempt_id: str, reason: str) -> None:
    # The job's reason is the current attempt's: a resumed job kept saying "preempted" while it ran again.
    _move(session, job, S.PROVISIONING, reason, attempt_id, attempts_count=job.attempts_count + 1, reason=reason)


def mark_running(session: Session, job: Job, attempt_id: str, reason: str = "agent reported running") -> None:
    _move(session, job, S.RUNNING, reason, attempt_id, started_at=job.started_at or utcnow(), reason=reason)


def mark_succeeded(session: Session, job: Job, attempt_id: str | None, reason: str = "exit code 0") -> None:
    _move(session, job, S.SUCCEEDED, reason, attempt_id, exit_code=0, finished_at=utcnow(), reason=reason)


def mark_failed(session: Session, job: Job, reason: str, *, attempt_id: str | None = None,
                exit_code: int | None = None) -> None:
    _move(session, job, S.FAILED, reason, attempt_id, exit_code=exit_code, finished_at=utcnow(), reason=reason)


def mark_preempted(session: Session, job: Job, attempt_id: str, reason: str) -> None:
    """The job lost its instance (spot reclaim, instance lost): it will be placed again."""
    _move(session, job, S.PREEMPTED, reason, attempt_id, restarts=job.restarts + 1, reason=reason)


def wait_for_capacity(session: Session, job: Job, reason: str, not_before: datetime) -> None:
    _move(session, job, S.WAITING_CAPACITY, reason, not_before=not_before, reason=reason)


def block_for_budget(session: Session, job: Job, reason: str) -> None:
    _move(session, job, S.BLOCKED_BUDGET, reason, reason=reason)


def unblock_budget(session: Session, job: Job, reason: str) -> None:
    _move(session, job, S.PENDING, reason, reason=reason)


def cancel(session: Session, job: Job, reason: str) -> None:
    _move(session, job, S.CANCELLED, reason, finished_at=utcnow(), reason=reason)
