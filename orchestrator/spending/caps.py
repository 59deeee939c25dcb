"""The caps sweep: running jobs past their runtime or cost cap are stopped (checkpoint first).

Limits come from `policies.caps`; the stop itself is `orchestrator.spending.stops` (a `shutdown.cap` alert
and a stop request in one transaction, the job FAILED with the cap as its reason when it ends).
Price caps are not enforced here but in placement (`limits_for` is the launcher's input).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.containment import item_errors
from orchestrator.jobs.attempts import ACTIVE, open_instances
from orchestrator.spending import ledger
from orchestrator.spending.budget import in_scope
from orchestrator.spending.policy_store import current_policy
from orchestrator.spending.policyfile import PolicyFile
from orchestrator.spending.stops import finish_due, request_stop
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Job, LedgerEntry
from orchestrator.store.types import utcnow
from policies.caps import JobLimits, breach, strictest
from providers.base import Provider


@dataclass
class CapReport:
    stopped: dict[str, str] = field(default_factory=dict)  # job id -> reason


def limits_for(policy: PolicyFile, job: Job) -> JobLimits:
    return strictest((c.max_price_per_hour, c.max_runtime, c.max_cost_per_job)
                     for c in policy.caps if in_scope(c.scope, job))


def usage(session: Session, job_ids: set[str], now: datetime) -> dict[str, tuple[float, float]]:
    """job id -> (cost USD, paid instance seconds) over all its attempts, current to the second."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    stmt = select(LedgerEntry.job_id, LedgerEntry.cost_usd, LedgerEntry.start, LedgerEntry.end).where(
        LedgerEntry.job_id.in_(sorted(job_ids)))
    pending = [r for r in ledger.pending_instances(session) if r.job_id in job_ids]
    rows = [(e.job_id, e.cost_usd, e.start, e.end) for e in ledger.unaccrued(session, pending, now)]
    for job_id, cost, start, end in [*session.execute(stmt), *rows]:
        out[job_id][0] += cost
        out[job_id][1] += (end - start).total_seconds()
    return {k: (v[0], v[1]) for k, v in out.items()}


def sweep_caps(sessions: sessionmaker[Session], providers: dict[str, Provider], interval_s: float,
               grace_s: float = 0.0, now: datetime | None = None) -> CapReport:
    """One pass. With `grace_s` 0 the stop is finished in this pass; the daemon passes its grace."""
    now = now or utcnow()
    report = CapReport()
    with transaction(sessions) as s:
        policy = current_policy(s)
        if not policy.caps:
            return report
        running: dict[str, float] = {}  # attempt -> price per hour of all its open instances (a gang: N nodes)
        for r in open_instances(s):
            running[r.attempt_id] = running.get(r.attempt_id, 0.0) + r.price_per_hour
        attempts = list(s.scalars(select(Attempt).where(Attempt.id.in_(list(running)), Attempt.state.in_(ACTIVE))))
        jobs = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_([a.job_id for a in attempts])))}
        limits = {jid: limits_for(policy, job) for jid, job in jobs.items()}
        watched = {jid for jid, lim in limits.items() if lim.enforced_while_running}
        used = usage(s, watched, now) if watched else {}
        budget = policy.max_actions_per_sweep
        for attempt in attempts:
            with item_errors("cap_sweep", attempt.id, s):  # one attempt that raises is skipped
                job = jobs.get(attempt.job_id)
                if job is None or job.id not in watched or budget <= 0:
                    continue
                cost, seconds = used.get(job.id, (0.0, 0.0))
                hit = breach(limits[job.id], runtime_s=seconds, spent_usd=cost,
                             price_per_hour=running[attempt.id], horizon_s=interval_s + grace_s)
                if hit is None or policy.dry_run:
                    continue
                if request_stop(s, job, attempt, cause="cap", name=hit.field, reason=hit.reason, grace_s=grace_s,
                                now=now) is not None:
                    budget -= 1
                    report.stopped[job.id] = hit.reason
    if grace_s <= 0 and report.stopped:
        finish_due(sessions, providers, now)
    return report
