"""The level-triggered reconcile loop: compare what the store wants with what clouds report, act.

Each pass is idempotent and every step commits before the next side effect, so a crash at any
line (kill -9 included) is repaired by the next pass:
- an attempt recorded as LAUNCHING is launched again with the same idempotency key, which the
  provider turns into "return the instance you already made";
- an instance tagged with our cluster whose attempt is not active is an orphan and terminated;
- an attempt whose instance vanished is ended and its job requeued; for a multi-node (gang) attempt,
  losing ANY node (gone, preempted, silent) ends the attempt for the whole gang: the other nodes are
  terminated and the job resumes from its checkpoint on a new gang. A node that already reported exit 0
  is done, not lost, when its instance goes away.
Provider calls never happen inside a database transaction (SQLite holds its write lock for the
whole transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from orchestrator.containment import item_errors
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import (
    ACTIVE,
    AttemptState,
    active_attempts,
    close_instance,
    end_attempt,
    open_instances,
)
from orchestrator.jobs.models import JobState
from orchestrator.jobs.queue import job_by_id
from orchestrator.logs import get_logger
from orchestrator.provisioning import outage
from orchestrator.provisioning.interruptions import drain_notices, preemption_noticed
from orchestrator.provisioning.launcher import Launcher
from orchestrator.provisioning.retry import after_attempt
from orchestrator.runtime import Runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Instance, Job
from orchestrator.store.types import utcnow
from providers.base import InstanceInfo, InstanceState
from providers.errors import ProviderError

log = get_logger(__name__)


@dataclass
class PassReport:
    launched: int = 0
    ended: int = 0
    orphans_terminated: int = 0
    unobserved: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.launcher = Launcher(rt)
        self._serving_since: datetime | None = None

    def run_once(self) -> PassReport:
        report = PassReport()
        settings = self.rt.settings
        gap = max(10.0, 5 * settings.reconcile_interval_seconds, 2 * settings.heartbeat_interval_seconds)
        with transaction(self.rt.sessions) as s:
            self._serving_since = outage.serving_since(s, utcnow(), gap)
        try:
            observed = self._observe(report)
            drain_notices(self.rt.sessions, self.rt.providers)  # before the sync: a notice makes a gone one PREEMPTED
            self._sync_attempts(observed, report)
            self._sweep_orphans(observed, report)
            report.launched = self.launcher.place_queue()
        finally:  # a failed pass still means a daemon was up to hear heartbeats
            with transaction(self.rt.sessions) as s:
                outage.mark_pass_end(s, utcnow())
        return report

    # -- observe -----------------------------------------------------------------------------

    def _observe(self, report: PassReport) -> dict[str, dict[str, InstanceInfo]]:
        """provider -> instance id -> info. A provider that cannot be listed is left out, so
        nothing is concluded from its silence."""
        observed: dict[str, dict[str, InstanceInfo]] = {}
        for name, provider in self.rt.providers.items():
            report.unobserved.append(name)  # until its listing succeeds; any error leaves it out of this pass
            with item_errors("list_managed", name):
                try:
                    observed[name] = {i.id: i for i in provider.list_managed(self.rt.cluster_id)}
                    report.unobserved.remove(name)
                except ProviderError as exc:
                    log.warning("list_managed_failed", provider=name, error=str(exc))
        return observed

    # -- attempts ------------------------------------------------------------------------------

    def _sync_attempts(self, observed: dict[str, dict[str, InstanceInfo]], report: PassReport) -> None:
        with transaction(self.rt.sessions) as s:
            attempts = active_attempts(s)
            jobs = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_([a.job_id for a in attempts])))}
            rows: dict[str, list[Instance]] = {}
            for r in open_instances(s):
                rows.setdefault(r.attempt_id, []).append(r)
        for attempt in attempts:  # one attempt that raises is logged and retried next pass; the rest go on
            if attempt.provider not in observed:
                continue
            with item_errors("attempt_sync", attempt.id):
                try:
                    job = jobs[attempt.job_id]
                    if JobState(job.state).is_final:
                        self._end_for_final_job(attempt, job, rows.get(attempt.id, []))
                    elif attempt.state == AttemptState.LAUNCHING:
                        self.launcher.launch(attempt.id)
                    else:
                        self._check_gang(attempt, rows.get(attempt.id, []), observed[attempt.provider], report)
                except ProviderError as exc:
                    log.warning("attempt_sync_failed", attempt=attempt.id, error=str(exc))

    def _end_for_final_job(self, attempt: Attempt, job: Job, rows: list[Instance]) -> None:
        """The job was cancelled (or ended) while its attempt was still active: stop its instance(s)."""
        if rows:
            self.rt.providers[attempt.provider].terminate([r.id for r in rows])
        with transaction(self.rt.sessions) as s:
            state = AttemptState.CANCELLED if job.state == JobState.CANCELLED else AttemptState.LOST
            end_attempt(s, attempt.id, state, f"job {job.state.lower()}")
            for inst in open_instances(s, attempt.id):
                close_instance(s, inst, InstanceState.TERMINATED.value)

    def _check_gang(self, attempt: Attempt, rows: list[Instance], seen: dict[str, InstanceInfo],
                    report: PassReport) -> None:
        """Check every node still working; the first lost node ends the attempt and stops the rest."""
        if (attempt.nodes or 1) <= 1:
            self._check_live(attempt, rows[0] if rows else None, seen, report)
            return
        if len({r.node for r in rows if r.exit_code == 0}) == attempt.nodes:  # every node done: a missed finish
            self._finish_gang(attempt)
            return
        working = [r for r in rows if r.exit_code != 0]  # a node that exited 0 is done, whatever its VM does
        recorded = {r.node for r in rows}
        missing = [n for n in range(attempt.nodes) if n not in recorded]
        if missing:  # launched (the attempt left LAUNCHING) yet a node has no open row: it was closed or lost
            self._end_gang(attempt, working, None, f"gang node(s) {', '.join(map(str, missing))} have no instance",
                           preempted=False, report=report)
            return
        for row in working:
            lost = self._check_live(attempt, row, seen, report, gang=True)
            if lost is not None:
                why, preempted = lost
                self._end_gang(attempt, working, row, f"node {row.node} of {attempt.nodes}: {why}; the whole "
                               "gang stopped", preempted=preempted, report=report)
                return

    def _finish_gang(self, attempt: Attempt) -> None:
        """Every node reported exit 0 but the attempt is still active (the API normally ends it): succeed it."""
        with transaction(self.rt.sessions) as s:
            if end_attempt(s, attempt.id, AttemptState.SUCCEEDED, f"all {attempt.nodes} nodes exited 0", exit_code=0):
                job = job_by_id(s, attempt.job_id)
                if not JobState(job.state).is_final:
                    T.mark_succeeded(s, job, attempt.id)

    def _end_gang(self, attempt: Attempt, rows: list[Instance], lost: Instance | None, why: str, *,
                  preempted: bool, report: PassReport) -> None:
        """Terminate every node still up, then end the attempt once (requeue: a new gang resumes)."""
        up = [r.id for r in rows]
        if up:
            self.rt.providers[attempt.provider].terminate(up)
        self._lose(attempt, lost, why, preempted=preempted)
        report.ended += 1

    def _check_live(self, attempt: Attempt, row: Instance | None, seen: dict[str, InstanceInfo],
                    report: PassReport, *, gang: bool = False) -> tuple[str, bool] | None:
        """End the attempt when its instance is gone or silent; with `gang`, only say (why, preempted)."""
        settings = self.rt.settings
        now = utcnow()
        info = seen.get(row.id) if row else None
        if row is not None and info is None:
            described = self.rt.providers[attempt.provider].describe([row.id])
            info = described[0] if described else None
        if info is not None and not info.state.is_gone:
            if gang and row is not None:  # each node's own heartbeat
                beat, reporting = row.last_heartbeat_at, row.last_heartbeat_at is not None
            else:
                beat, reporting = attempt.last_heartbeat_at, attempt.state == AttemptState.RUNNING
            stale_since = outage.silent_since(beat or attempt.launched_at or attempt.created_at,
                                              self._serving_since)
            limit = settings.heartbeat_timeout_seconds if reporting else settings.provisioning_timeout_seconds
            if now - stale_since <= timedelta(seconds=limit):
                return None
            why = ("no heartbeat" if reporting else "agent never reported") + f" for {limit:g}s"
            if gang:
                return why, False
            self.rt.providers[attempt.provider].terminate([info.id])
            self._lose(attempt, row, why, preempted=False)
            report.ended += 1
            return None
        preempted = bool(info and info.preempted)
        if not preempted:  # the cloud announced the reclaim out of the VM, though it now reports the instance gone
            with transaction(self.rt.sessions) as s:
                preempted = preemption_noticed(s, attempt.id)
        why = "spot instance preempted" if preempted else (
            f"instance {row.id if row else '?'} is gone ({info.state_reason if info else 'not found'})")
        if gang:
            return why, preempted
        self._lose(attempt, row, why, preempted=preempted)
        report.ended += 1
        return None

    def _lose(self, attempt: Attempt, row: Instance | None, why: str, *, preempted: bool) -> None:
        """End an attempt that lost its instance; requeue the job (or fail it when out of restarts)."""
        with transaction(self.rt.sessions) as s:
            state = AttemptState.PREEMPTED if preempted else AttemptState.LOST
            if not end_attempt(s, attempt.id, state, why):
                return  # the agent reported an exit first: that outcome stands
            for inst in open_instances(s, attempt.id):  # only the reclaimed node counts as preempted
                close_instance(s, inst, InstanceState.TERMINATED.value,
                               preempted=preempted and (row is None or inst.id == row.id))
            job = job_by_id(s, attempt.job_id)
            if JobState(job.state).is_final:
                return
            after_attempt(s, self.rt.settings, job, attempt, preempted=preempted, exit_code=None, why=why)  # retry
        log.info("attempt_ended", attempt=attempt.id, job_id=attempt.job_id, reason=why)

    # -- orphans -------------------------------------------------------------------------------

    def _sweep_orphans(self, observed: dict[str, dict[str, InstanceInfo]], report: PassReport) -> None:
        """Terminate tagged instances with no active attempt; close rows of instances now gone."""
        with transaction(self.rt.sessions) as s:
            active_ids = set(s.scalars(select(Attempt.id).where(Attempt.state.in_(ACTIVE))))
        for name, instances in observed.items():
            orphans = [i for i in instances.values() if i.attempt_id not in active_ids]
            if not orphans:
                continue
            try:
                with item_errors("orphan_terminate", name, passing=(ProviderError,)):
                    self.rt.providers[name].terminate([i.id for i in orphans])
            except ProviderError as exc:
                log.warning("orphan_terminate_failed", provider=name, error=str(exc))
                continue
            report.orphans_terminated += len(orphans)
            for info in orphans:
                log.info("orphan_terminated", provider=name, instance=info.id, attempt=info.attempt_id)
        with transaction(self.rt.sessions) as s:
            for row in open_instances(s):
                if row.attempt_id not in active_ids and row.provider in observed:
                    close_instance(s, row, InstanceState.TERMINATED.value)
