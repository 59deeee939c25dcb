"""What placement needs from the store besides offers: blocks, recent preemptions, spot-auto wait.

Blocks live in the `pool_blocks` table (wall-clock expiry), so a daemon restart or a second
replica does not retry a pool that just failed; the launcher also keeps them in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from orchestrator.jobs.attempts import AttemptState
from orchestrator.store.tables import Attempt, Job, PoolBlock
from orchestrator.store.types import utcnow
from policies.blocks import Block, Blocks, Pool, scope_key


def _key_text(key: tuple[str, ...]) -> str:
    return "|".join(key)[:255]


def save_block(session: Session, scope: str, pool: Pool, seconds: float, reason: str) -> Block:
    """Block `pool` at `scope` for `seconds`; an existing longer block stands."""
    key = scope_key(scope, pool)
    until = utcnow() + timedelta(seconds=seconds)
    row = session.get(PoolBlock, _key_text(key))
    if row is None:
        session.add(PoolBlock(key=_key_text(key), scope=scope, cloud=pool[0], reason=reason[:2000],
                              blocked_until=until, created_at=utcnow()))
    elif row.blocked_until < until:
        row.blocked_until, row.reason, row.scope = until, reason[:2000], scope
    return Block(key, until.timestamp(), reason)


def load_blocks(session: Session) -> Blocks:
    """Active blocks with expiry as epoch seconds (compare with `time.time()`); prunes expired rows."""
    now = utcnow()
    session.execute(delete(PoolBlock).where(PoolBlock.blocked_until <= now))
    blocks = Blocks()
    for row in session.scalars(select(PoolBlock)):
        blocks.add(Block(tuple(row.key.split("|")), row.blocked_until.timestamp(), row.reason))
    return blocks


def recent_preemptions(session: Session, window_seconds: float) -> dict[Pool, int]:
    """Preemptions we observed per pool within the window: the placement prior's evidence."""
    since = utcnow() - timedelta(seconds=window_seconds)
    stmt = (select(Attempt.provider, Attempt.region, Attempt.zone, Attempt.instance_type, Attempt.spot,
                   func.count())
            .where(Attempt.state == AttemptState.PREEMPTED.value, Attempt.ended_at >= since)
            .group_by(Attempt.provider, Attempt.region, Attempt.zone, Attempt.instance_type, Attempt.spot))
    return {(p, r, z, t, bool(s)): int(n) for p, r, z, t, s, n in session.execute(stmt)}


def waiting_since(session: Session, job: Job) -> datetime:
    """When the job started waiting for capacity: its last lost instance, else its submission."""
    last_ran = session.scalar(
        select(func.max(Attempt.ended_at)).where(
            Attempt.job_id == job.id,
            Attempt.state.in_([AttemptState.PREEMPTED.value, AttemptState.LOST.value])))
    moment = last_ran or job.submitted_at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def spot_mode(spot: bool | Literal["auto"], waited_seconds: float, fallback_after: float) -> bool | Literal["auto"]:
    """`spot: auto` asks for spot only until the job has waited `fallback_after`; then either market."""
    if spot != "auto":
        return spot
    return True if waited_seconds < fallback_after else "auto"
