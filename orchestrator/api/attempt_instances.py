"""Facts added to one job's view: the instance(s) of each attempt (`--wait` and `jobs show` name them), and the
budget a queued job will wait for (`submit` says so at once, not after the launcher's next pass).

Why its own module: the job view is built in the API's hot module; these lookups are one query each, only for
`GET /v1/jobs/{id}`, never on the submit path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.spending.budget import budget_gate
from orchestrator.store.tables import Instance, Job


def add_instance_ids(session: Session, attempts: list[dict[str, Any]]) -> None:
    """Set `instance_id` (the first node's) and `instance_ids` on each attempt dict; None / [] before launch."""
    ids = [a["id"] for a in attempts]
    found: dict[str, list[str]] = {}
    for attempt_id, instance_id in session.execute(
            select(Instance.attempt_id, Instance.id).where(Instance.attempt_id.in_(ids)).order_by(Instance.id)):
        found.setdefault(attempt_id, []).append(instance_id)
    for a in attempts:
        a["instance_ids"] = found.get(a["id"], [])
        a["instance_id"] = a["instance_ids"][0] if a["instance_ids"] else None


def add_budget_wait(session: Session, job: Job, view: dict[str, Any]) -> None:
    """`budget_wait`: why a job not launched yet will wait for a budget (None when no budget holds it)."""
    view["budget_wait"] = budget_gate(session, job) if job.state in ("PENDING", "BLOCKED_BUDGET") else None
