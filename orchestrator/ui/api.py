"""/v1/dashboard: read-only views the web dashboard needs and the other routes do not give.

Why here and not in the other routers: each view joins what several routers own (jobs with their
latest placement, spend on a time axis, budgets with their period spend and forecast, instances
with utilisation and the idle countdown). Every view applies the same rule as the rest of the
API: an admin token sees everything, a team token only its own team.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.api.deps import SessionDep, UserDep
from orchestrator.api.errors import ApiError
from orchestrator.api.jobs import list_job_page
from orchestrator.jobs.attempts import open_instances
from orchestrator.jobs.models import JobState
from orchestrator.jobs.specfile import parse_spec
from orchestrator.spending import ledger
from orchestrator.spending.budget import in_scope, spend_by_budget
from orchestrator.spending.policy_store import current_policy
from orchestrator.store.tables import Attempt, IdleWarning, Instance, Job, LedgerEntry, UtilSample
from orchestrator.store.types import utcnow
from orchestrator.tokens import Principal
from orchestrator.ui.series import SERIES_GROUPS, Piece, bucket_costs
from policies.budget import period_bounds

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])
MAX_BUCKETS = 500


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _team_of(principal: Principal) -> str | None:
    return None if principal.is_admin else principal.team


@router.get("/me")
def whoami(principal: UserDep) -> dict[str, Any]:
    """Who the token belongs to, so the pages can say so and hide admin-only views."""
    return {"role": principal.role, "team": principal.team}


def _estimated_seconds(job: Job) -> float | None:
    try:
        estimate = parse_spec(job.spec, "stored spec").estimated_runtime
    except Exception:  # noqa: BLE001 - an old or odd spec only loses the slack figure
        return None
    return estimate.total_seconds() if estimate else None


@router.get("/jobs")
def jobs(principal: UserDep, session: SessionDep, state: list[JobState] = Query(default=[]),
         team: str | None = None, limit: int = Query(default=100, ge=1, le=500)) -> dict[str, Any]:
    """The jobs list (same filters and team rule as /v1/jobs) plus placement and deadline slack.

    Slack = deadline - now - the runtime still expected (estimate minus runtime so far); negative
    means the job is expected to miss its deadline.
    """
    page = list_job_page(principal, session, state=state, team=team, name=None, limit=limit, before=None)
    ids = [j["id"] for j in page["items"]]
    latest: dict[str, Attempt] = {}
    for a in session.scalars(select(Attempt).where(Attempt.job_id.in_(ids)).order_by(Attempt.number)):
        latest[a.job_id] = a
    specs = {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(ids)))}
    now = utcnow()
    for item in page["items"]:
        last = latest.get(item["id"])
        item["placement"] = None if last is None else {
            "cloud": last.provider, "region": last.region, "zone": last.zone, "instance_type": last.instance_type,
            "spot": last.spot, "price_per_hour": last.price_per_hour}
        item["slack_seconds"] = None
        job = specs.get(item["id"])
        if job is not None and job.deadline_at is not None and not JobState(job.state).is_final:
            remaining = max(0.0, (_estimated_seconds(job) or 0.0) - (item["runtime_seconds"] or 0.0))
            item["slack_seconds"] = round((job.deadline_at - now).total_seconds() - remaining, 1)
    return page


def _pieces(session: Session, by: str, team: str | None, since: datetime, until: datetime,
            now: datetime) -> list[Piece]:
    stmt = select(LedgerEntry).where(LedgerEntry.end > since, LedgerEntry.start < until)
    if team is not None:
        stmt = stmt.where(LedgerEntry.team == team)
    entries = list(session.scalars(stmt)) + [
        e for e in ledger.unaccrued(session, ledger.pending_instances(session), now)
        if e.end > since and e.start < until and (team is None or e.team == team)]
    key = (lambda e: e.team or "-") if by == "team" else (lambda e: e.provider)
    return [Piece(key(e), e.start, e.end, e.cost_usd) for e in entries]


def _burn(session: Session, by: str, team: str | None) -> dict[str, float]:
    rows = open_instances(session)
    teams = {j.id: j.team for j in session.scalars(select(Job).where(Job.id.in_({r.job_id for r in rows})))}
    burn: dict[str, float] = {}
    for r in rows:
        owner = teams.get(r.job_id, "")
        if team is not None and owner != team:
            continue
        key = (owner or "-") if by == "team" else r.provider
        burn[key] = burn.get(key, 0.0) + r.price_per_hour
    return burn


@router.get("/spend")
def spend_series(principal: UserDep, session: SessionDep, by: str = "team",
                 window_seconds: float = Query(default=86400, gt=0, le=400 * 86400),
                 step_seconds: float = Query(default=3600, ge=1, le=366 * 86400)) -> dict[str, Any]:
    """Spend per bucket per team or cloud over the last `window_seconds`, and today's burn rates."""
    if by not in SERIES_GROUPS:
        raise ApiError(422, "invalid_request", f"unknown grouping {by!r}; choose one of: {', '.join(SERIES_GROUPS)}")
    if window_seconds / step_seconds > MAX_BUCKETS:
        raise ApiError(422, "invalid_request", f"at most {MAX_BUCKETS} buckets; raise step_seconds")
    now = utcnow()
    step = timedelta(seconds=step_seconds)
    since = now - timedelta(seconds=window_seconds)
    since = since - (since - datetime(2000, 1, 1, tzinfo=since.tzinfo)) % step  # align buckets to the step
    team = _team_of(principal)
    starts, costs = bucket_costs(_pieces(session, by, team, since, now, now), since, now, step)
    burn = _burn(session, by, team)
    keys = sorted(set(costs) | set(burn), key=lambda k: -sum(costs.get(k, [])))
    return {
        "by": by, "since": since.isoformat(), "until": now.isoformat(), "step_seconds": step_seconds,
        "keys": keys, "bucket_starts": [s.isoformat() for s in starts],
        "series": {k: [round(c, 8) for c in costs.get(k, [0.0] * len(starts))] for k in keys},
        "totals": {k: round(sum(costs.get(k, [])), 8) for k in keys},
        "burn_per_hour": {k: round(burn.get(k, 0.0), 6) for k in keys},
    }


@router.get("/budgets")
def budgets(principal: UserDep, session: SessionDep) -> dict[str, Any]:
    """Each budget in force: period, spend so far, burn rate and the forecast at period end.

    Spend is the sweep's own sum (`budgets.spend_by_budget`), matched to each scope in SQL:
    the page shows what the budget loop acts on, and reads no job rows but the running ones. A team
    token sees only budgets scoped to its own team (a global budget would reveal the other teams' spend).
    """
    now = utcnow()
    policy = current_policy(session)
    burn_of: dict[str, float] = {}  # every open instance counts, as in the sweep: a gang job burns N x its price
    for r in open_instances(session):
        burn_of[r.job_id] = burn_of.get(r.job_id, 0.0) + r.price_per_hour
    running_jobs = list(session.scalars(select(Job).where(Job.id.in_(set(burn_of)))))
    visible = [b for b in policy.budgets if principal.is_admin or b.scope == f"team:{principal.team}"]
    spent_of = spend_by_budget(session, visible, now)
    items = []
    for b in visible:
        start, end = period_bounds(b.period, b.timezone, now)
        spent = spent_of[b.name]
        burn = sum(burn_of[j.id] for j in running_jobs if in_scope(b.scope, j))
        forecast = None if end is None else spent + burn * max(0.0, (end - now).total_seconds()) / 3600.0
        items.append({
            "name": b.name, "scope": b.scope, "period": b.period, "limit_usd": b.limit_usd,
            "period_start": _iso(start), "period_end": _iso(end), "spent_usd": round(spent, 6),
            "burn_per_hour": round(burn, 6), "forecast_usd": None if forecast is None else round(forecast, 6),
            "percent": round(100.0 * spent / b.limit_usd, 2),
            "thresholds": [{"percent": t.percent, "action": t.action} for t in b.thresholds]})
    return {"items": items, "at": now.isoformat()}


@router.get("/instances")
def instances(principal: UserDep, session: SessionDep) -> dict[str, Any]:
    """Open instances with age, the latest GPU utilisation and, once warned, the idle shutdown time."""
    now = utcnow()
    rows = open_instances(session)
    jobs = {j.id: j for j in session.scalars(select(Job).where(Job.id.in_({r.job_id for r in rows})))}
    team = _team_of(principal)
    policy = current_policy(session)
    items = []
    for r in sorted(rows, key=lambda r: r.launched_at, reverse=True):
        job = jobs.get(r.job_id)
        if team is not None and (job is None or job.team != team):
            continue
        sample = session.scalar(select(UtilSample).where(UtilSample.attempt_id == r.attempt_id)
                                .order_by(UtilSample.at.desc()).limit(1))
        rule = next((x for x in policy.idle if job is not None and in_scope(x.scope, job)), None)
        warning = session.get(IdleWarning, r.attempt_id)
        shutdown_at = warning.warned_at + timedelta(seconds=rule.grace) if warning and rule else None
        items.append({**_instance_view(r, now), "team": job.team if job else None,
                      "job_name": job.name if job else None,
                      "gpu_utilization": sample.gpu_utilization if sample else None,
                      "util_at": _iso(sample.at) if sample else None,
                      "idle_rule": None if rule is None else {"below": rule.gpu_utilization_below,
                                                              "window_seconds": rule.window,
                                                              "grace_seconds": rule.grace},
                      "idle_shutdown_at": _iso(shutdown_at),
                      "idle_seconds_left": None if shutdown_at is None else
                      round(max(0.0, (shutdown_at - now).total_seconds()), 1)})
    return {"items": items, "at": now.isoformat()}


def _instance_view(r: Instance, now: datetime) -> dict[str, Any]:
    return {"id": r.id, "cloud": r.provider, "job_id": r.job_id, "attempt_id": r.attempt_id, "region": r.region,
            "zone": r.zone, "instance_type": r.instance_type, "spot": r.spot, "price_per_hour": r.price_per_hour,
            "state": r.state, "launched_at": _iso(r.launched_at),
            "age_seconds": round((now - r.launched_at).total_seconds(), 1)}
