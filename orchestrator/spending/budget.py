"""The budget sweep: ledger spend vs the budgets in force -> alerts, launch blocks, stops.

Decisions come from `policies.budget`; this module gathers the inputs and applies the outcome.
Every alert is written to the outbox in the same transaction as the change it reports. A stop
ends the attempt, closes its instance rows and parks the job in BLOCKED_BUDGET in one transaction
and only then calls the provider: if the daemon dies between the two, the instance has no active
attempt and the reconcile loop terminates it as an orphan. Blocked scopes are kept in `meta`
(key `budget_blocks`), read by the launcher's gate before each placement.

A `stop` asks the job to checkpoint first (`orchestrator.spending.stops`): the sweep records a stop request
and the instance is terminated when the agent reports its exit or `grace_s` later. Committed spend
therefore looks `interval + grace` ahead, so the stop starts early enough for the grace to fit.
A block is released only when releasing its waiting jobs would not cross it again at once
(`_release_would_recross`): without that, block and release alternate and each release launches a batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, select, true
from sqlalchemy.orm import Session, aliased, sessionmaker

from orchestrator.alerts import emit
from orchestrator.containment import item_errors
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import ACTIVE, open_instances
from orchestrator.jobs.models import JobState
from orchestrator.logs import get_logger
from orchestrator.spending import ledger
from orchestrator.spending.ledger_sql import json_label
from orchestrator.spending.policy_store import current_policy
from orchestrator.spending.policyfile import Budget
from orchestrator.spending.stops import finish_due, request_stop
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Instance, Job, Meta
from orchestrator.store.types import utcnow
from policies.budget import evaluate, period_bounds, scope_matches, threshold_subject
from policies.money import usd
from providers.base import Provider

log = get_logger(__name__)
BLOCKS_KEY = "budget_blocks"


@dataclass
class BudgetReport:
    alerts: int = 0
    blocked_scopes: dict[str, str] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)
    unblocked: int = 0


def _labels(job: Job) -> dict[str, str]:
    return dict((job.spec or {}).get("labels") or {})


def in_scope(scope: str, job: Job) -> bool:
    return scope_matches(scope, job.team, job.project, _labels(job))


def blocked_scopes(session: Session) -> dict[str, str]:
    row = session.get(Meta, BLOCKS_KEY)
    return json.loads(row.value) if row else {}


def budget_gate(session: Session, job: Job) -> str | None:
    """The launcher's hook: why this job must wait in BLOCKED_BUDGET, or None to let it launch."""
    for name, scope in blocked_scopes(session).items():
        if in_scope(scope, job):
            return f"budget {name!r} ({scope}) is over its block_new threshold; new launches wait"
    return None


def _set_blocks(session: Session, blocks: dict[str, str]) -> None:
    row = session.get(Meta, BLOCKS_KEY)
    if row is None:
        session.add(Meta(key=BLOCKS_KEY, value=json.dumps(blocks, sort_keys=True)))
    else:
        row.value = json.dumps(blocks, sort_keys=True)


def scope_filter(scope: str) -> ColumnElement[bool]:
    """The SQL twin of `in_scope`: a condition on `Job` that holds for exactly the jobs in `scope`.

    Why: a scope can hold every job ever submitted, so the sweep matches it in the database (joined
    to the ledger, the attempts) instead of reading each job row into Python; `in_scope` stays the
    rule for the few rows already in hand (the gate's job, running jobs, jobs waiting on a block).
    tests/spending/test_budget_scopes.py checks that both agree, on SQLite and PostgreSQL.
    """
    kind, _, arg = scope.partition(":")
    if kind == "global":
        return true()
    if kind == "team":
        return Job.team == arg
    if kind == "project":
        return Job.project == arg
    if kind == "label":
        key, _, value = arg.partition("=")
        return json_label(Job.spec, key) == value
    raise ValueError(f"unknown scope {scope!r}")


def spend_by_budget(session: Session, budgets: Sequence[Budget], now: datetime) -> dict[str, float]:
    """Each budget's spend in its current period, accrued or not: what the sweep acts on, and what the
    dashboard and the `/metrics` gauges show (all three call this, so they cannot disagree).

    Stored entries are matched to each scope and summed in SQL (`scope_filter`): a scope can hold every
    job ever submitted. The seconds not accrued yet are selected once for all budgets (the pending test
    is a correlated subquery over every closed instance) and matched with `in_scope` on those few rows.
    """
    periods = {b.name: period_bounds(b.period, b.timezone, now)[0] for b in budgets}
    starts = list(periods.values())
    earliest = None if not starts or None in starts else min(t for t in starts if t is not None)
    pending = ledger.unaccrued_with_jobs(session, earliest, now) if budgets else []
    out: dict[str, float] = {}
    for b in budgets:
        start = periods[b.name]
        out[b.name] = ledger.accrued_scope_spend(session, scope_filter(b.scope), start) + sum(
            e.cost_usd for e, job in pending
            if job is not None and in_scope(b.scope, job) and (start is None or e.start >= start))
    return out


def sweep_budgets(sessions: sessionmaker[Session], providers: dict[str, Provider], interval_s: float,
                  now: datetime | None = None, grace_s: float = 0.0) -> BudgetReport:
    """One budget pass. With `grace_s` 0 a stop is finished in this pass (the job gets no time to
    checkpoint); the daemon passes `stop_grace_seconds`.

    Reads no more job rows than are running, pending accrual or waiting on a block (`spend_by_budget`)."""
    now = now or utcnow()
    report = BudgetReport()
    with transaction(sessions) as s:
        policy = current_policy(s)
        burn_of: dict[str, float] = {}  # every open instance counts: a gang job burns N x its price
        for r in open_instances(s):
            burn_of[r.job_id] = burn_of.get(r.job_id, 0.0) + r.price_per_hour
        running = list(s.scalars(select(Job).where(Job.id.in_(select(Instance.job_id).where(
            Instance.ended_at.is_(None)))).order_by(Job.seq)))
        stops_left = policy.max_actions_per_sweep
        held_before = blocked_scopes(s)
        spent_of = spend_by_budget(s, policy.budgets, now)
        for b in policy.budgets:
            jobs = scope_filter(b.scope)
            scoped_running = [j for j in running if in_scope(b.scope, j)]
            start, end = period_bounds(b.period, b.timezone, now)
            spent = spent_of[b.name]
            burn = sum(burn_of[j.id] for j in scoped_running)
            v = evaluate(limit=b.limit_usd, thresholds=[(t.percent, t.action) for t in b.thresholds], spent=spent,
                         burn_per_hour=burn, now=now, period_end=end, sweep_interval_s=interval_s + grace_s,
                         forecast=b.forecast_alert)
            period = start.isoformat() if start else "total"
            team = b.scope.partition(":")[2] if b.scope.startswith("team:") else None
            payload = {"budget": b.name, "scope": b.scope, "period_start": period, "spent_usd": round(spent, 8),
                       "committed_usd": round(v.committed, 8), "limit_usd": b.limit_usd}
            for c in v.crossed:
                if emit(s, "cost.threshold", threshold_subject(b.name, c.percent, c.action,
                                                          [(t.percent, t.action) for t in b.thresholds]),
                        severity="critical" if c.action != "alert" else "warning", team=team,
                        body=f"the {c.percent:g}% threshold ({c.action}) is {usd(b.limit_usd * c.percent / 100)}; "
                             f"{v.reason}",
                        payload={**payload, "percent": c.percent, "action": c.action},
                        dedup_key=f"cost.threshold:{b.name}:{period}:{c.percent:g}:{c.action}", at=now):
                    report.alerts += 1
            if v.forecast is not None and emit(
                    s, "cost.forecast", f"budget {b.name} is projected to overrun", team=team, body=v.reason,
                    payload={**payload, "projected_usd": round(v.forecast, 8)},
                    dedup_key=f"cost.forecast:{b.name}:{period}", at=now):
                report.alerts += 1
            if policy.dry_run:
                continue
            if v.actions & {"block_new", "stop"} or (
                    b.name in held_before and _release_would_recross(s, b, jobs, spent, burn, interval_s + grace_s)):
                report.blocked_scopes[b.name] = b.scope
            if "stop" in v.actions:
                for job in scoped_running:
                    with item_errors("budget_stop", job.id, s):
                        if stops_left > 0 and not JobState(job.state).is_final:
                            stops_left -= 1
                            if _stop(s, job, b.name, v.reason, grace_s, now):
                                report.stopped.append(job.id)
        if not policy.dry_run:
            _set_blocks(s, report.blocked_scopes)
            waiting = list(s.scalars(select(Job).where(Job.state == JobState.BLOCKED_BUDGET).order_by(Job.seq)))
            for job in waiting:
                with item_errors("budget_unblock", job.id, s):
                    if not any(in_scope(sc, job) for sc in report.blocked_scopes.values()):
                        T.unblock_budget(s, job, "no budget blocks this job any more")
                        report.unblocked += 1
    if grace_s <= 0:
        finish_due(sessions, providers, now)
    return report


def _release_would_recross(s: Session, budget: Budget, jobs: ColumnElement[bool], spent: float, burn: float,
                           lookahead_s: float) -> bool:
    """True while releasing the budget's waiting jobs would cross a block_new/stop threshold again at once.

    Why: thresholds fire on committed spend (spent + running $/h x lookahead), so when the running jobs
    end, committed falls back to `spent` and a plain check would release every BLOCKED_BUDGET job at
    once -- under `block_new` alone those then run to completion, and the budget is overrun by a whole
    batch of jobs per block/release cycle (the chaos harness's `capped` team went 4x over its limit).
    A block therefore stays while `spent + (running + released) $/h x lookahead` still crosses, each
    released job priced at its last attempt's price (else the dearest price seen in the scope).
    `jobs` is the budget's scope as a condition on `Job`; the sums are taken in SQL.
    """
    levels = [budget.limit_usd * t.percent / 100.0 for t in budget.thresholds if t.action in ("block_new", "stop")]
    if not levels:
        return False
    waiting = select(Job.id).where(Job.state == JobState.BLOCKED_BUDGET, jobs)
    n_waiting = s.scalar(select(func.count()).select_from(waiting.subquery())) or 0
    if not n_waiting:
        return False
    later = aliased(Attempt)
    is_last = ~exists().where(later.job_id == Attempt.job_id, later.number > Attempt.number)
    priced, n_priced = s.execute(select(func.coalesce(func.sum(Attempt.price_per_hour), 0.0), func.count())
                                 .where(Attempt.job_id.in_(waiting), is_last)).one()
    released = float(priced)
    if n_priced < n_waiting:  # waiting jobs that never ran: priced at the dearest last price in the scope
        dearest = s.scalar(select(func.max(Attempt.price_per_hour)).join(Job, Job.id == Attempt.job_id)
                           .where(jobs, is_last))
        released += (n_waiting - n_priced) * float(dearest or 0.0)
    return spent + (burn + released) * lookahead_s / 3600.0 >= min(levels)


def _stop(s: Session, job: Job, budget: str, why: str, grace_s: float, now: datetime) -> bool:
    """Ask the running job to checkpoint and stop (see `orchestrator.spending.stops`); False if already asked."""
    attempt = s.scalar(select(Attempt).where(Attempt.job_id == job.id, Attempt.state.in_(ACTIVE)))
    if attempt is None:
        return False
    return request_stop(s, job, attempt, cause="budget", name=budget, reason=f"stopped by budget {budget}: {why}",
                        grace_s=grace_s, now=now) is not None
