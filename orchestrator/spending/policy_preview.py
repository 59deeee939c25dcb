"""What a policy would do *now* if applied: the running jobs its caps and budgets would stop, the launches its
budgets would block. Shown by `spotwise policy diff` and before `policy apply`.

Why: a diff of YAML says what changed in the text, not that `max_runtime: 1h` stops three jobs of team sandbox
that have run for two. Judged at today's spend and runtime (no look-ahead), read-only, with the same rules the
sweeps apply (caps: the strictest matching cap; budgets: committed spend against each threshold).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.jobs.attempts import ACTIVE, open_instances
from orchestrator.spending.budget import in_scope, spend_by_budget
from orchestrator.spending.caps import limits_for, usage
from orchestrator.spending.policyfile import PolicyFile
from orchestrator.store.tables import Attempt, Job
from policies.budget import evaluate, period_bounds
from policies.caps import breach
from policies.money import usd


def _jobs_text(jobs: list[Job]) -> str:
    teams = sorted({j.team for j in jobs})
    ids = ", ".join(j.id for j in jobs[:5]) + (", ..." if len(jobs) > 5 else "")
    noun = "running job" if len(jobs) == 1 else "running jobs"
    return f"{len(jobs)} {noun} ({ids}) of team{'s' if len(teams) > 1 else ''} {', '.join(teams)}"


def preview(session: Session, policy: PolicyFile, now: datetime) -> list[str]:
    """One line per effect the policy would have at once; empty when it would stop and block nothing now."""
    price: dict[str, float] = {}  # attempt -> $/h of its open instances
    for r in open_instances(session):
        price[r.attempt_id] = price.get(r.attempt_id, 0.0) + r.price_per_hour
    attempts = list(session.scalars(select(Attempt).where(Attempt.id.in_(list(price)), Attempt.state.in_(ACTIVE))))
    jobs = {j.id: j for j in session.scalars(select(Job).where(Job.id.in_([a.job_id for a in attempts])))}
    burn = {a.job_id: price[a.id] for a in attempts}
    effects: list[str] = []
    if policy.dry_run:
        effects.append("dry_run is on: nothing below would be stopped or blocked, only alerted")
    used = usage(session, set(jobs), now) if jobs else {}
    capped: dict[str, list[Job]] = {}
    for job in jobs.values():
        cost, seconds = used.get(job.id, (0.0, 0.0))
        hit = breach(limits_for(policy, job), runtime_s=seconds, spent_usd=cost, price_per_hour=burn[job.id],
                     horizon_s=0.0)
        if hit is not None:
            capped.setdefault(hit.field, []).append(job)
    for field, hit_jobs in sorted(capped.items()):
        effects.append(f"the {field} cap stops {_jobs_text(hit_jobs)}")
    spent_of = spend_by_budget(session, policy.budgets, now)
    for b in policy.budgets:
        scoped = [j for j in jobs.values() if in_scope(b.scope, j)]
        _, end = period_bounds(b.period, b.timezone, now)
        v = evaluate(limit=b.limit_usd, thresholds=[(t.percent, t.action) for t in b.thresholds],
                     spent=spent_of[b.name], burn_per_hour=sum(burn[j.id] for j in scoped), now=now,
                     period_end=end, sweep_interval_s=0.0, forecast=False)
        where = f"budget {b.name} ({b.scope}, {usd(v.spent)} spent of {usd(b.limit_usd)})"
        if "stop" in v.actions and scoped:
            effects.append(f"{where} stops {_jobs_text(scoped)} and blocks new launches")
        elif v.actions & {"block_new", "stop"}:
            effects.append(f"{where} blocks new launches in its scope")
    return effects
