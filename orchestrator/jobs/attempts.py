"""Attempt records: created before a launch, ended exactly once (conditional updates)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orchestrator.jobs.serialize import offer_to_json
from orchestrator.store.tables import Attempt, Instance, Job
from orchestrator.store.types import utcnow
from providers.base import InstanceInfo, Offer


class AttemptState(enum.StrEnum):
    LAUNCHING = "LAUNCHING"  # recorded; the launch call may or may not have happened
    LAUNCHED = "LAUNCHED"  # the provider returned an instance
    RUNNING = "RUNNING"  # the agent reported in
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PREEMPTED = "PREEMPTED"
    LOST = "LOST"  # the instance vanished or stopped reporting
    LAUNCH_FAILED = "LAUNCH_FAILED"
    CANCELLED = "CANCELLED"


ACTIVE = (AttemptState.LAUNCHING.value, AttemptState.LAUNCHED.value, AttemptState.RUNNING.value)


def create_attempt(session: Session, job: Job, offer: Offer, nodes: int = 1) -> Attempt:
    """Record an attempt of `nodes` identical instances of `offer` (a gang when more than one)."""
    number = job.attempts_count + 1
    attempt = Attempt(
        id=f"{job.id}-{number}", job_id=job.id, number=number, idempotency_key=uuid.uuid4().hex,
        state=AttemptState.LAUNCHING.value, provider=offer.cloud, region=offer.region, zone=offer.zone,
        instance_type=offer.instance_type, spot=offer.spot, price_per_hour=offer.price_per_hour,
        offer=offer_to_json(offer), created_at=utcnow(), launch_tries=0, end_reason="", nodes=nodes,
    )
    session.add(attempt)
    session.flush()
    return attempt


def active_attempts(session: Session) -> list[Attempt]:
    return list(session.scalars(select(Attempt).where(Attempt.state.in_(ACTIVE)).order_by(Attempt.created_at)))


def end_attempt(
    session: Session, attempt_id: str, state: AttemptState, reason: str, *, exit_code: int | None = None,
    at: datetime | None = None,
) -> bool:
    """Move an active attempt to a final state. False if it was already final (someone else won)."""
    result = session.execute(
        update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.state.in_(ACTIVE))
        .values(state=state.value, end_reason=reason, exit_code=exit_code, ended_at=at or utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def advance_attempt(session: Session, attempt_id: str, from_state: AttemptState, to: AttemptState,
                    **values: object) -> bool:
    result = session.execute(
        update(Attempt).where(Attempt.id == attempt_id, Attempt.state == from_state.value)
        .values(state=to.value, **values).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def record_instance(session: Session, attempt: Attempt, info: InstanceInfo, node: int = 0) -> Instance:
    """Insert the instance row once (as node `node` of the attempt); a repeated launch returns the same row."""
    row = session.get(Instance, (info.id, info.provider))
    if row is None:
        row = Instance(
            id=info.id, provider=info.provider, attempt_id=attempt.id, job_id=attempt.job_id,
            region=info.region, zone=info.zone, instance_type=info.instance_type, spot=info.spot,
            price_per_hour=info.price_per_hour, state=info.state.value,
            launched_at=info.launched_at or utcnow(), preempted=False, node=node, uid=info.uid or None,
        )
        session.add(row)
        session.flush()
    return row


def open_instances(session: Session, attempt_id: str | None = None) -> list[Instance]:
    stmt = select(Instance).where(Instance.ended_at.is_(None))
    if attempt_id is not None:
        stmt = stmt.where(Instance.attempt_id == attempt_id)
    return list(session.scalars(stmt))


def attempt_instances(session: Session, attempt_id: str) -> list[Instance]:
    """Every instance row of the attempt, open or closed, in node order."""
    return list(session.scalars(select(Instance).where(Instance.attempt_id == attempt_id).order_by(Instance.node)))


def node_instance(session: Session, attempt_id: str, node: int) -> Instance | None:
    """The instance row of one node of an attempt (None before that node's launch returned)."""
    return session.scalar(select(Instance).where(Instance.attempt_id == attempt_id, Instance.node == node)
                          .order_by(Instance.launched_at.desc()).limit(1))


def close_instance(session: Session, row: Instance, state: str, *, preempted: bool = False,
                   at: datetime | None = None) -> None:
    row.state = state
    row.ended_at = at or utcnow()
    row.preempted = row.preempted or preempted
