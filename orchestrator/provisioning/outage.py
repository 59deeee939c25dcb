"""Heartbeat silence that the daemon caused is not the agent's fault.

While no daemon serves (all replicas killed, a host reboot, an upgrade), agents cannot deliver heartbeats.
Measuring silence from the last heartbeat would then end every running attempt as "no heartbeat" as soon as
the daemon is back, and requeue jobs that were running fine (the chaos harness saw exactly that after long
outages). So the reconcile loop notes when each pass ends; a gap between passes longer than `gap_s` is an
outage, and silence is measured from the end of the most recent outage ("serving since") at the earliest.
Both facts live in the store so a kill -9 during the grace that follows does not reset it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from orchestrator.store.tables import Meta

LAST_PASS_KEY = "reconcile.last_pass_end"
SERVING_SINCE_KEY = "reconcile.serving_since"


def _get(session: Session, key: str) -> datetime | None:
    row = session.get(Meta, key)
    return datetime.fromisoformat(row.value) if row is not None else None


def _put(session: Session, key: str, value: datetime) -> None:
    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=value.isoformat()))
    else:
        row.value = value.isoformat()


def serving_since(session: Session, now: datetime, gap_s: float) -> datetime | None:
    """When the daemon last came back from an outage (None: never seen one). Call at the start of a pass."""
    last = _get(session, LAST_PASS_KEY)
    if last is not None and (now - last) > timedelta(seconds=gap_s):
        _put(session, SERVING_SINCE_KEY, now)
        return now
    return _get(session, SERVING_SINCE_KEY)


def mark_pass_end(session: Session, now: datetime) -> None:
    """A pass finished: the daemon is serving. The gap to the next pass's start is what counts as downtime."""
    _put(session, LAST_PASS_KEY, now)


def silent_since(last_heard: datetime, since: datetime | None) -> datetime:
    """Silence starts at the last word from the agent, or when the daemon came back, whichever is later."""
    return last_heard if since is None or last_heard >= since else since
