"""What `jobs show` adds per attempt for recovery: its cost and the checkpoint version it resumed from."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.checkpoint.jobs import checkpoint_events, resumed_from
from orchestrator.costs import instance_cost
from orchestrator.store.tables import Instance


def add_recovery_facts(session: Session, job_id: str, attempts: list[dict[str, Any]], now: datetime) -> None:
    costs: dict[str, float] = defaultdict(float)
    for row in session.scalars(select(Instance).where(Instance.job_id == job_id)):
        costs[row.attempt_id] += instance_cost(row, now)
    restored = resumed_from(checkpoint_events(session, job_id))
    for a in attempts:
        a["cost_usd"] = round(costs.get(a["id"], 0.0), 6)
        a["resumed_from"] = restored.get(a["id"])
