"""The idle sweep: utilisation samples + idle rules -> pre-shutdown alert, then shutdown after grace.

Verdicts come from `policies.idle`. The pre-shutdown alert (`idle.warning`) and the
`IdleWarning` row that starts the grace period are written in one transaction; the shutdown
(attempt ended, job failed with the reason, `shutdown.idle` alert) commits before the provider
call, so a crash in between leaves an orphan that reconcile terminates. Samples older than a day
are pruned here.

Local provider: the agent reports NVML utilisation when a GPU exists, otherwise none; a
heartbeat without a figure counts as busy while the job runs (no evidence, no shutdown). Tests
post heartbeats with `gpu_utilization: 0` to simulate a stalled job; the demo uses a job stuck in
`setup` (no job process running counts as idle).

An instance whose job ended is judged on the daemon's knowledge (attempt final, instance alive),
not on agent figures. In practice reconcile terminates it on its next pass as an instance without
an active attempt, well before any idle window: instances are never reused, so waiting would only
buy paid idle time. The "job ended" branch here is the backstop when that termination fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.alerts import emit
from orchestrator.containment import item_errors
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import ACTIVE, AttemptState, close_instance, end_attempt, open_instances
from orchestrator.jobs.models import JobState
from orchestrator.logs import get_logger
from orchestrator.spending.budget import in_scope
from orchestrator.spending.policy_store import current_policy
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, IdleWarning, Instance, Job, UtilSample
from orchestrator.store.types import utcnow
from policies.idle import Sample, idle_verdict
from providers.base import InstanceState, Provider
from providers.errors import ProviderError

log = get_logger(__name__)
SAMPLE_RETENTION = timedelta(days=1)


@dataclass
class IdleReport:
    warned: list[str] = field(default_factory=list)
    shut_down: list[str] = field(default_factory=list)
    waiting_upload: list[str] = field(default_factory=list)
    # the earliest end of a grace period still running: the daemon sweeps again then, so the shutdown comes when
    # the warning said, not up to one idle interval later
    next_deadline: datetime | None = None

    def due_at(self, deadline: datetime) -> None:
        self.next_deadline = deadline if self.next_deadline is None else min(self.next_deadline, deadline)


def record_sample(session: Session, attempt_id: str, phase: str, gpu_utilization: float | None,
                  checkpoint_uploading: bool = False, at: datetime | None = None) -> None:
    """Called from the heartbeat handler, in its transaction."""
    session.add(UtilSample(attempt_id=attempt_id, at=at or utcnow(), phase=phase, gpu_utilization=gpu_utilization,
                           checkpoint_uploading=checkpoint_uploading))


def sweep_idle(sessions: sessionmaker[Session], providers: dict[str, Provider],
               now: datetime | None = None) -> IdleReport:
    now = now or utcnow()
    report = IdleReport()
    to_terminate: list[tuple[str, str]] = []
    with transaction(sessions) as s:
        policy = current_policy(s)
        if not policy.idle:
            return report
        budget = policy.max_actions_per_sweep
        handled: set[str] = set()  # attempts shut down this sweep (a gang's other nodes went with them)
        for row in open_instances(s):
            with item_errors("idle_sweep", row.id, s):  # one instance that raises is skipped
                if row.attempt_id in handled:
                    continue
                attempt, job = s.get(Attempt, row.attempt_id), s.scalar(select(Job).where(Job.id == row.job_id))
                if attempt is None or job is None:
                    continue
                rule = next((r for r in policy.idle if in_scope(r.scope, job)), None)
                if rule is None:
                    continue
                recent = (select(UtilSample).where(UtilSample.attempt_id == attempt.id,
                                                   UtilSample.at >= now - timedelta(seconds=rule.window))
                          .order_by(UtilSample.at))
                samples = [Sample(x.at, x.phase, x.gpu_utilization, x.checkpoint_uploading) for x in s.scalars(recent)]
                running = attempt.state in ACTIVE
                since = (attempt.started_at or attempt.launched_at or row.launched_at) if running else (
                    attempt.ended_at or now)
                warning = s.get(IdleWarning, attempt.id)
                v = idle_verdict(samples=samples, now=now, active_since=since, job_running=running,
                                 threshold=rule.gpu_utilization_below, window_s=rule.window, grace_s=rule.grace,
                                 warned_at=warning.warned_at if warning else None)
                if v.action == "clear" and warning is not None:
                    s.delete(warning)
                elif v.action == "none" and warning is not None:
                    report.due_at(warning.warned_at + timedelta(seconds=rule.grace))
                elif v.action == "warn":
                    s.add(IdleWarning(attempt_id=attempt.id, warned_at=now))
                    report.due_at(now + timedelta(seconds=rule.grace))
                    emit(s, "idle.warning", f"instance {row.id} (job {job.id}) is idle; shutdown in {rule.grace:g}s "
                         f"(at {(now + timedelta(seconds=rule.grace)).strftime('%H:%M:%S')} UTC)",
                         team=job.team, body=v.reason, payload={"instance": row.id, "job_id": job.id,
                                                               "grace_seconds": rule.grace}, at=now)
                    report.warned.append(row.id)
                elif v.action == "wait_upload":
                    report.waiting_upload.append(row.id)
                elif v.action == "shutdown" and not policy.dry_run and budget > 0:
                    budget -= 1
                    handled.add(attempt.id)
                    for node in _shut_down(s, row, attempt, job, v.reason, rule.action, now):
                        to_terminate.append((node.provider, node.id))
                        report.shut_down.append(node.id)
        s.execute(delete(UtilSample).where(UtilSample.at < now - SAMPLE_RETENTION))
    for provider, instance_id in to_terminate:
        try:
            providers[provider].terminate([instance_id])
        except (KeyError, ProviderError) as exc:
            log.warning("idle_terminate_failed", instance=instance_id, error=repr(exc))
    return report


def _shut_down(s: Session, row: Instance, attempt: Attempt, job: Job, why: str, action: str,
               now: datetime) -> list[Instance]:
    """Close the idle instance and, for a gang, every other node of its attempt: returns what to terminate."""
    nodes = [row, *(n for n in open_instances(s, attempt.id) if (n.provider, n.id) != (row.provider, row.id))]
    if attempt.state in ACTIVE:
        end_attempt(s, attempt.id, AttemptState.LOST, f"idle: {why}", at=now)
    for node in nodes:
        close_instance(s, node, InstanceState.TERMINATED.value, at=now)
    if not JobState(job.state).is_final:
        T.mark_failed(s, job, f"instance shut down idle: {why}", attempt_id=attempt.id)
    emit(s, "shutdown.idle", f"instance {row.id} (job {job.id}) shut down: idle", team=job.team, body=why,
         payload={"instance": row.id, "job_id": job.id, "action": action}, at=now)
    s.execute(delete(IdleWarning).where(IdleWarning.attempt_id == attempt.id))
    return nodes
