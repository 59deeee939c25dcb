"""Deliberate stops (budget `stop`, runtime and cost caps): ask the job to checkpoint, then terminate.

Why two steps: unlike a spot reclaim, a budget or cap stop is our own decision, and killing the
instance at once throws away up to one checkpoint interval of paid work. So the sweep records a
`StopRequest` (with an alert, in the same transaction) and the heartbeat answer for that attempt
becomes `checkpoint_and_stop` with the deadline. The stop is finished by whichever comes first:
- the agent's exit report (it checkpointed and stopped the job): any exit reported while a stop is
  pending is the stop's outcome, never a success or failure of the job itself;
- the deadline (`stop_grace_seconds` after the request): the stop is finished without the agent and
  the instance terminated. An agent that does not know the action keeps running until then, so the
  worst case equals the old immediate stop plus the grace's spend (which the bound in docs/spending.md counts).
Finishing commits before the provider call; a crash in between leaves an instance without an active
attempt, which reconcile terminates as an orphan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.alerts import emit
from orchestrator.containment import item_errors
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import ACTIVE, AttemptState, close_instance, end_attempt, open_instances
from orchestrator.jobs.models import JobState
from orchestrator.logs import get_logger
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Job, StopRequest
from orchestrator.store.types import utcnow
from providers.base import InstanceState, Provider
from providers.errors import ProviderError

log = get_logger(__name__)

ACTION_CHECKPOINT_AND_STOP = "checkpoint_and_stop"  # the heartbeat action the agent acts on
CAUSES = ("budget", "cap")


@dataclass(frozen=True)
class Finished:
    """A finished stop and every instance of its attempt (all nodes of a gang) still to terminate."""

    job_id: str
    instances: tuple[tuple[str, str], ...] = ()

    @property
    def provider(self) -> str | None:
        return self.instances[0][0] if self.instances else None

    @property
    def instance_id(self) -> str | None:
        return self.instances[0][1] if self.instances else None


def pending(session: Session, attempt_id: str) -> StopRequest | None:
    return session.get(StopRequest, attempt_id)


def request_stop(session: Session, job: Job, attempt: Attempt, *, cause: str, name: str, reason: str,
                 grace_s: float, now: datetime | None = None) -> StopRequest | None:
    """Record the stop and tell people; None when a stop of this attempt is already pending."""
    if cause not in CAUSES:
        raise ValueError(f"unknown stop cause {cause!r}")
    if attempt.state not in ACTIVE or session.get(StopRequest, attempt.id) is not None:
        return None
    now = now or utcnow()
    deadline = now + timedelta(seconds=max(0.0, grace_s))
    row = StopRequest(attempt_id=attempt.id, job_id=job.id, cause=cause, name=name[:64], reason=reason,
                      requested_at=now, deadline=deadline)
    session.add(row)
    kind = "shutdown.budget" if cause == "budget" else "shutdown.cap"
    emit(session, kind, f"job {job.id} stopping: {reason}", severity="critical", team=job.team,
         body=f"{reason}. The job was asked to checkpoint; its instance is terminated by {deadline.isoformat()}.",
         payload={"job_id": job.id, "attempt_id": attempt.id, "cause": cause, "name": name,
                  "deadline": deadline.isoformat(), "grace_seconds": grace_s},
         dedup_key=f"stop:{attempt.id}", at=now)
    T.record_event(session, job.id, f"stop requested: {reason}; checkpoint, then terminate by {deadline.isoformat()}",
                   kind="stop", attempt_id=attempt.id, at=now)
    return row


def heartbeat_answer(session: Session, attempt_id: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The heartbeat response while a stop is pending, else None."""
    row = session.get(StopRequest, attempt_id)
    if row is None:
        return None
    left = (row.deadline - (now or utcnow())).total_seconds()
    return {"action": ACTION_CHECKPOINT_AND_STOP, "reason": row.reason, "deadline": row.deadline.isoformat(),
            "grace_seconds": max(0.0, round(left, 1))}


def finish(session: Session, row: StopRequest, *, exit_code: int | None = None,
           now: datetime | None = None) -> Finished:
    """End the attempt and move the job: a budget stop parks it in BLOCKED_BUDGET (it resumes from
    its checkpoint when the budget allows), a cap stop fails it with the cap as the reason."""
    now = now or utcnow()
    job = session.scalar(select(Job).where(Job.id == row.job_id))
    how = "after the agent stopped the job" if exit_code is not None else "at the grace deadline"
    why = f"{row.reason} (stopped {how})"
    state = AttemptState.PREEMPTED if row.cause == "budget" else AttemptState.CANCELLED
    ended = end_attempt(session, row.attempt_id, state, why, exit_code=exit_code, at=now)
    instances = open_instances(session, row.attempt_id)
    for inst in instances:
        close_instance(session, inst, InstanceState.TERMINATED.value, at=now)
    session.delete(row)
    if ended and job is not None and not JobState(job.state).is_final:
        if row.cause == "budget":
            if job.state in (JobState.RUNNING, JobState.PROVISIONING):
                T.mark_preempted(session, job, row.attempt_id, why)
            T.block_for_budget(session, job, why)
        else:
            T.mark_failed(session, job, why, attempt_id=row.attempt_id, exit_code=exit_code)
    return Finished(row.job_id, tuple((inst.provider, inst.id) for inst in instances))


def finish_due(sessions: sessionmaker[Session], providers: dict[str, Provider],
               now: datetime | None = None) -> list[Finished]:
    """Finish stops whose deadline passed (or whose attempt ended otherwise); terminate their instances."""
    now = now or utcnow()
    done: list[Finished] = []
    with transaction(sessions) as s:
        for row in list(s.scalars(select(StopRequest))):  # one stop that raises is skipped, the rest finish
            with item_errors("stop_finish", row.attempt_id, s):
                attempt = s.get(Attempt, row.attempt_id)
                if attempt is not None and attempt.state in ACTIVE and row.deadline > now:
                    continue
                done.append(finish(s, row, now=now))
    for f in done:
        for provider, instance_id in f.instances:
            try:
                with item_errors("stop_terminate", instance_id, passing=(KeyError, ProviderError)):
                    providers[provider].terminate([instance_id])
            except (KeyError, ProviderError) as exc:  # the orphan sweep retries
                log.warning("stop_terminate_failed", instance=instance_id, error=repr(exc))
    return done
