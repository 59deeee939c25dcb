"""Priority caps: the highest `priority` a job may have, from the policy file's `caps:` (`max_priority`).

Why in the policy file and not the daemon's config: it is per team/project/label like the other caps, an admin
changes it at run time with `spotwise policy apply` (versioned, diffable), and replicas read it from the store.
Why refuse (422) rather than clamp at submit: a job silently queued at another priority than its owner wrote
does not do what they asked; the refusal names the cap and its scope so they can resubmit. A cap lowered later
does clamp the jobs already queued (they were valid when accepted), each with an event saying why.
The strictest matching cap wins, as for every other cap; it binds every submitter, the admin included (raise
the cap to queue above it).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.jobs.models import FINAL_STATES, JobSpec
from orchestrator.jobs.transitions import record_event
from orchestrator.spending.policyfile import PolicyFile
from orchestrator.store.tables import Job
from policies.budget import scope_matches


def priority_cap(policy: PolicyFile, team: str, project: str | None,
                 labels: Mapping[str, str]) -> tuple[int, str] | None:
    """(max priority, the scope of the cap that sets it) of the strictest matching cap, or None."""
    caps = [(c.max_priority, c.scope) for c in policy.caps
            if c.max_priority is not None and scope_matches(c.scope, team, project, labels)]
    return min(caps) if caps else None


def over_cap(policy: PolicyFile, spec: JobSpec) -> str | None:
    """Why this spec's priority may not be queued, or None when it is within its caps."""
    cap = priority_cap(policy, spec.team, spec.project, spec.labels)
    if cap is None or spec.priority <= cap[0]:
        return None
    return (f"priority: {spec.priority} is above the max_priority cap of {cap[0]} for {cap[1]} (policy file); "
            f"submit with priority {cap[0]} or lower, or ask an admin to raise the cap")


def clamp_queued(session: Session, policy: PolicyFile) -> int:
    """Lower every unfinished job above its cap to the cap (an event on each); returns how many changed."""
    if not any(c.max_priority is not None for c in policy.caps):
        return 0
    finals = [s.value for s in FINAL_STATES]
    changed = 0
    for job in session.scalars(select(Job).where(Job.state.not_in(finals))):
        cap = priority_cap(policy, job.team, job.project, dict((job.spec or {}).get("labels") or {}))
        if cap is None or job.priority <= cap[0]:
            continue
        record_event(session, job.id, f"priority lowered from {job.priority} to {cap[0]}: the policy's "
                     f"max_priority cap for {cap[1]}", kind="policy")
        job.priority = cap[0]
        job.spec = {**job.spec, "priority": cap[0]}  # a new dict: the JSON column sees the change
        changed += 1
    return changed
