"""Apply policies/retry.py to an attempt that just ended without success: requeue (with backoff, avoiding the
reclaimed pool) or fail the job, and record the decision as an event with its reason.

Called inside the caller's transaction by the reconcile loop (instance lost or reclaimed) and by the agent API
(exit report), so the decision commits together with the attempt's end.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.config import Settings
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import AttemptState
from orchestrator.provisioning.placement_state import save_block
from orchestrator.store.tables import Attempt, Job
from orchestrator.store.types import utcnow
from policies.retry import Outcome, RetryDecision, RetryInput, classify, decide

_FAILURES = (AttemptState.LOST.value, AttemptState.FAILED.value)


def _history(session: Session, job: Job, attempt_id: str) -> tuple[int, int, int]:
    """(earlier infra failures, earlier user failures, consecutive failures ending with this attempt)."""
    states = [(a.id, a.state) for a in session.scalars(
        select(Attempt).where(Attempt.job_id == job.id).order_by(Attempt.number))]
    earlier = [s for i, s in states if i != attempt_id]
    consecutive = 1
    for state in reversed(earlier):
        if state not in _FAILURES:
            break
        consecutive += 1
    return earlier.count(AttemptState.LOST.value), earlier.count(AttemptState.FAILED.value), consecutive


def _retry_fields(spec: Any) -> tuple[tuple[int, ...], int]:
    """(restart_exit_codes, max_restarts) of a stored spec; raises on a value JobSpec would refuse."""
    codes = tuple(spec.get("restart_exit_codes") or ())
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
        raise ValueError(f"restart_exit_codes {list(codes)!r} are not all whole numbers")
    max_restarts = spec.get("max_restarts", 3)
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or not 0 <= max_restarts <= 1000:
        raise ValueError(f"max_restarts {max_restarts!r} is not a whole number from 0 to 1000")
    return codes, max_restarts


def after_attempt(session: Session, settings: Settings, job: Job, attempt: Attempt, *, preempted: bool,
                  exit_code: int | None, why: str) -> RetryDecision:
    """Requeue or fail `job` after `attempt` ended (already recorded) with `why`."""
    try:  # a stored spec whose retry fields no longer read back: the job fails alone, with the reason
        codes, max_restarts = _retry_fields(job.spec)
    except (AttributeError, TypeError, ValueError) as exc:
        reason = f"{why}; the stored spec's restart settings no longer validate ({exc}): not restarting"
        T.mark_failed(session, job, reason, attempt_id=attempt.id, exit_code=exit_code)
        return RetryDecision(False, 0.0, 0.0, reason)
    infra, user, consecutive = _history(session, job, attempt.id)
    decision = decide(RetryInput(
        outcome=classify(preempted=preempted, exit_code=exit_code), exit_code=exit_code,
        restart_exit_codes=codes, max_restarts=max_restarts,
        infra_failures=infra, user_failures=user, consecutive_failures=consecutive,
        base_backoff_seconds=settings.retry_backoff_seconds,
        reclaimed_pool_block_seconds=settings.reclaimed_pool_block_seconds))
    if not decision.retry:
        T.mark_failed(session, job, f"{why}; {decision.reason}", attempt_id=attempt.id, exit_code=exit_code)
        return decision
    if decision.avoid_pool_seconds > 0 and (preempted or attempt.started_at is None):
        # A pool block holds back every team, so only the cloud's doing sets one: a reclaim, or an instance whose
        # agent never reported in. Once the agent ran the job, the job itself may have caused the loss (killed its
        # agent, exhausted the machine): it retries with backoff (counted against max_restarts), the pool stays open.
        pool = (attempt.provider, attempt.region, attempt.zone, attempt.instance_type, bool(attempt.spot))
        save_block(session, "pool", pool, decision.avoid_pool_seconds, f"attempt {attempt.id}: {why}")
    T.mark_preempted(session, job, attempt.id, why)
    if decision.delay_seconds > 0:
        job.not_before = utcnow() + timedelta(seconds=decision.delay_seconds)
    T.record_event(session, job.id, decision.reason, kind="recovery", attempt_id=attempt.id)
    return decision


__all__ = ["Outcome", "after_attempt"]
