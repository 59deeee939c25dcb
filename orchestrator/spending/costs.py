"""What a job (or each of its attempts) has cost so far, as the ledger charges it.

Why through the ledger: the job views once priced each instance as price x lifetime while the
ledger (and so every budget) charges whole seconds at the price in force during each second;
on few-second jobs the two disagreed by ~15%. These views now read the ledger's entries plus
what accrual would add right now, so `jobs list/show` and `spotwise costs` give one number.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from orchestrator.spending import ledger
from orchestrator.store.types import utcnow


def job_costs(session: Session, job_ids: Iterable[str], now: datetime | None = None) -> dict[str, float]:
    """Job id -> USD charged so far (running instances: up to the last whole second before `now`)."""
    return ledger.charges(session, "job", job_ids, now or utcnow())


def attempt_costs(session: Session, job_id: str, now: datetime | None = None) -> dict[str, float]:
    """Attempt id -> USD charged so far, for one job's attempts (`jobs show`)."""
    return ledger.charges(session, "attempt", [job_id], now or utcnow())
