"""The instance (or a gang's instances) of each attempt, for a job's view: `--wait` and `jobs show` name them.

Why its own module: the job view is built in the API's hot module; this lookup is one query, only for one job.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.store.tables import Instance


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
