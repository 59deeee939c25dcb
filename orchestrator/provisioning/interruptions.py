"""Out-of-VM preemption notices: what the clouds tell the daemon, not the agent.

Each reconcile pass drains `provider.interruption_events()` (EventBridge/SQS, GCE operations, the local notice)
and records one job event of kind "notice" per attempt and notice kind. The notice is what makes a later
disappearance a preemption: some clouds describe a reclaimed instance as merely gone (or not at all), and without
the notice the attempt would end LOST, counting against `max_restarts` and not blocking the reclaimed pool.
Events are the memory on purpose: they survive a daemon restart and show in `jobs show`.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.containment import item_errors
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import open_instances
from orchestrator.logs import get_logger
from orchestrator.store.db import transaction
from orchestrator.store.tables import JobEvent
from providers.base import Interruption, Provider
from providers.errors import ProviderError

log = get_logger(__name__)

EVENT_KIND = "notice"
_PREEMPTION = "preemption notice"


def _text(provider: str, notice: Interruption) -> str:
    what = _PREEMPTION if notice.kind == "preemption" else f"{notice.kind} recommendation"
    until = f", reclaimed at {notice.deadline.isoformat(timespec='seconds')}" if notice.deadline else ""
    return f"{what} from {provider} for instance {notice.instance_id}{until}"


def drain_notices(sessions: sessionmaker[Session], providers: Mapping[str, Provider]) -> int:
    """Record the notices every provider reports now; returns how many were new. A provider that fails is skipped
    (its notices come again, or the agent's own watcher reports the preemption)."""
    seen: dict[str, list[Interruption]] = {}
    for name, provider in providers.items():
        try:
            notices = provider.interruption_events()
        except ProviderError as exc:
            log.warning("interruption_events_failed", provider=name, error=str(exc))
            continue
        if notices:
            seen[name] = notices
    if not seen:
        return 0
    new = 0
    with transaction(sessions) as s:
        rows = {(r.provider, r.id): r for r in open_instances(s)}
        for name, notices in seen.items():
            for notice in notices:
                with item_errors("interruption_notice", notice.instance_id, s):
                    row = rows.get((name, notice.instance_id))
                    if row is None:
                        continue  # not ours, or already closed
                    text = _text(name, notice)
                    prefix = text.split(" from ")[0]
                    known = s.scalar(select(JobEvent.id).where(
                        JobEvent.attempt_id == row.attempt_id, JobEvent.kind == EVENT_KIND,
                        JobEvent.reason.startswith(prefix)).limit(1))
                    if known is None:
                        T.record_event(s, row.job_id, text, kind=EVENT_KIND, attempt_id=row.attempt_id,
                                       at=notice.noticed_at if notice.noticed_at.tzinfo else None)
                        log.info("interruption_notice", provider=name, instance=notice.instance_id, kind=notice.kind,
                                 attempt=row.attempt_id)
                        new += 1
    return new


def preemption_noticed(session: Session, attempt_id: str) -> bool:
    """Whether a cloud announced the reclaim of this attempt's instance."""
    return session.scalar(select(JobEvent.id).where(
        JobEvent.attempt_id == attempt_id, JobEvent.kind == EVENT_KIND,
        JobEvent.reason.startswith(_PREEMPTION)).limit(1)) is not None
