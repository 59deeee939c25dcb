"""What a job has cost so far: each instance's price times how long it has existed.

A first ledger: the full per-second ledger with price changes and budgets builds on this.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.store.tables import Instance
from orchestrator.store.types import utcnow


def instance_cost(row: Instance, now: datetime) -> float:
    end = row.ended_at or now
    seconds = max(0.0, (end - row.launched_at).total_seconds())
    return row.price_per_hour * seconds / 3600.0


def job_costs(session: Session, job_ids: Iterable[str], now: datetime | None = None) -> dict[str, float]:
    now = now or utcnow()
    ids = list(job_ids)
    totals: dict[str, float] = defaultdict(float)
    if not ids:
        return totals
    for row in session.scalars(select(Instance).where(Instance.job_id.in_(ids))):
        totals[row.job_id] += instance_cost(row, now)
    return totals
