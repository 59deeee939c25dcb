"""The spending loops wired into the daemon's scheduler: ledger accrual, budget sweep, idle sweep,
alert dispatch. Each is an APScheduler job with max_instances=1 (never overlapping itself); a
failed pass is logged (a database outage as one throttled warning, orchestrator/dberrors.py) and the next
one repairs it, since every pass is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta

from apscheduler.schedulers.base import BaseScheduler

from orchestrator.alerts.dispatcher import Dispatcher
from orchestrator.alerts.routing import parse_routes
from orchestrator.alerts.sinks import parse_sinks
from orchestrator.dberrors import LoopFailures
from orchestrator.runtime import Runtime
from orchestrator.spending import ledger
from orchestrator.spending.budget import sweep_budgets
from orchestrator.spending.caps import sweep_caps
from orchestrator.spending.idle import sweep_idle
from orchestrator.spending.stops import finish_due


def build_dispatcher(rt: Runtime) -> Dispatcher:
    s = rt.settings
    return Dispatcher(rt.sessions, parse_sinks(s.alert_sinks), parse_routes(s.alert_routes),
                      base_backoff=s.alert_base_backoff_seconds, max_tries=s.alert_max_tries,
                      lease_seconds=s.alert_lease_seconds)


def _guard(name: str, fn: Callable[[], object]) -> Callable[[], None]:
    """`fn` as loop `name`'s job: a failed pass is logged (a database outage as a throttled warning, anything
    else with its traceback; orchestrator/dberrors.py) and the next pass retries."""
    return LoopFailures(name).run(fn)


def idle_pass(scheduler: BaseScheduler, rt: Runtime) -> None:
    """One idle sweep; when a grace period ends before the next regular pass, the next pass is moved to then.

    Why: the warning promises "shutdown in 15s"; with a 30 s interval the shutdown came up to 30 s after the grace
    ended. Moving the idle job itself (not adding another) keeps it guarded by its lease and never overlapping."""
    report = sweep_idle(rt.sessions, rt.providers)
    deadline = report.next_deadline
    job = scheduler.get_job("idle")
    if deadline is None or job is None or job.next_run_time is None:
        return
    deadline = (deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)) + timedelta(seconds=0.2)
    if deadline < job.next_run_time:
        scheduler.modify_job("idle", next_run_time=deadline)


def add_spending_loops(scheduler: BaseScheduler, rt: Runtime) -> Dispatcher:
    s = rt.settings
    dispatcher = build_dispatcher(rt)
    jobs: list[tuple[str, float, Callable[[], object]]] = [
        ("ledger", s.ledger_interval_seconds, lambda: ledger.accrue(rt.sessions)),
        ("budgets", s.budget_interval_seconds,
         lambda: sweep_budgets(rt.sessions, rt.providers, s.budget_interval_seconds, grace_s=s.stop_grace_seconds)),
        ("caps", s.budget_interval_seconds,
         lambda: sweep_caps(rt.sessions, rt.providers, s.budget_interval_seconds, grace_s=s.stop_grace_seconds)),
        # budget and cap stops end when the agent reports its exit or at their grace deadline
        ("stops", min(5.0, s.budget_interval_seconds), lambda: finish_due(rt.sessions, rt.providers)),
        ("idle", s.idle_interval_seconds, lambda: idle_pass(scheduler, rt)),
        ("alerts", s.alert_interval_seconds, dispatcher.run_once),
    ]
    for name, every, fn in jobs:
        scheduler.add_job(_guard(name, fn), "interval", seconds=every, id=name, max_instances=1, coalesce=True)
    return dispatcher
