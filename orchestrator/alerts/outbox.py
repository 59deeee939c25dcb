"""Writing alerts to the outbox, in the caller's transaction, deduplicated by key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.store.tables import Alert
from orchestrator.store.types import utcnow

KINDS = frozenset({
    "cost.threshold", "cost.forecast", "shutdown.idle", "shutdown.budget", "job.preempted", "job.failed",
    "job.waiting_capacity", "quota.exceeded", "orphan.terminated", "provider.auth_failed", "idle.warning", "test",
    "shutdown.cap", "prices.stale", "agent.bootstrap_refused",
})
SEVERITIES = ("info", "warning", "critical")


def emit(session: Session, kind: str, subject: str, *, severity: str = "warning", team: str | None = None,
         body: str = "", payload: dict[str, Any] | None = None, dedup_key: str | None = None,
         at: datetime | None = None) -> Alert | None:
    """Add an alert to the outbox in `session`'s transaction. Returns None when `dedup_key` was
    already used: the same fact (a budget crossing 80% in this period) is told once."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
    alert_id = uuid.uuid4().hex
    key = dedup_key or alert_id
    if dedup_key is not None:
        with session.no_autoflush:
            pending = any(isinstance(o, Alert) and o.dedup_key == key for o in session.new)
        if pending or session.scalar(select(Alert.id).where(Alert.dedup_key == key)) is not None:
            return None
    row = Alert(id=alert_id, kind=kind, severity=severity, team=team, subject=subject, body=body,
                payload=payload or {}, dedup_key=key, created_at=at or utcnow(), routed=False)
    session.add(row)
    return row
