"""What `jobs show` adds per attempt for recovery: its cost and the checkpoint version it resumed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.checkpoint.jobs import checkpoint_events, resumed_from
from orchestrator.spending.costs import attempt_costs


def add_recovery_facts(session: Session, job_id: str, attempts: list[dict[str, Any]], now: datetime) -> None:
    costs = attempt_costs(session, job_id, now)  # the ledger's charges, as the job's own cost
    restored = resumed_from(checkpoint_events(session, job_id))
    for a in attempts:
        a["cost_usd"] = round(costs.get(a["id"], 0.0), 6)
        a["resumed_from"] = restored.get(a["id"])
