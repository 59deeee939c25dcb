"""The deadline policy's view of one job, rebuilt from the store at each placement.

`policies/deadline.py` decides spot, on-demand or wait from a frozen `DeadlineState`; this module is the daemon's
side of that contract. `deadline_state_for` is pure (rows, offers and a clock in, a state out) so the simulator
comparison and the tests can build exactly the state the daemon builds; `apply_deadline` is the thin placement
glue that calls the policy, records the decision as a job event (kind "deadline", with what the decided market
costs the whole job an hour: N nodes pay N times the per-node price the policy compares) and turns it into a
placement request (spot, on-demand) or a short wait.

What the daemon knows and how it maps onto the model (hours, measured from submission):
- work: the spec's `estimated_runtime`; done: the progress saved in the latest uploaded checkpoint (each attempt
  resumes from the version it restored and adds its own running time up to the upload), or, with no checkpoint
  reports at all, the running time of every attempt so far;
- changeover: `changeover_seconds` from the settings; tick: how long until the daemon decides again (a wait, or
  the failure backoff of the launches this pass may make, whichever is longer, so the safety net's margin covers
  the real gap between two decisions);
- zones: every zone with a spot offer for the job's request; available when one of its spot pools is not
  blocked now; expected lifetime: the availability prior, shortened by our recent preemptions there; expected
  outage: the time left on its blocks. The daemon keeps no per-zone observation history yet, so ages are 0,
  and it hands no `outlook` (the union's run model): `spotwise-dp` then plans with its prior, `spotwise` (the
  default) does not read it.
Placement happens only for jobs with no live instance, so the current market is always NONE here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.checkpoint.jobs import RESTORED_PREFIX, UPLOADED_PREFIX
from orchestrator.config import Settings
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import ACTIVE
from orchestrator.jobs.models import JobSpec, JobState
from orchestrator.store.tables import Attempt, Job, JobEvent
from policies.availability import PRIOR_RUN_HOURS, ZoneStats
from policies.blocks import Blocks, Pool
from policies.deadline import DEFAULT_POLICY, POLICIES, DeadlineState, Decision, Market, decide
from policies.egress import TransferRates
from policies.placement import OfferIndex, PlacementRequest, Priors, RankedOffer
from policies.totalcost import DataProfile, transfer_plan
from providers.base import Offer

EVENT_KIND = "deadline"
#: How long a job the policy told to wait stays in WAITING_CAPACITY before the next decision. Short enough to
#: catch returning spot capacity, long enough that a day of waiting is not thousands of events.
WAIT_SECONDS = 60.0
#: On-demand price assumed when no on-demand offer matches (the policy only weighs it against spot prices).
_NO_ON_DEMAND_FACTOR = 3.0


class JobLike(Protocol):
    """The job fields the state is built from (a `Job` row, or anything a test makes)."""

    submitted_at: datetime
    deadline_at: datetime | None
    spec: dict[str, Any]


class AttemptLike(Protocol):
    id: str
    state: str
    created_at: datetime
    launched_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None


class EventLike(Protocol):
    at: datetime
    kind: str
    attempt_id: str | None
    reason: str


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600.0


def deadline_applies(job: JobLike, spec: JobSpec) -> bool:
    """Only jobs with a deadline, an estimate of their work and a free choice of market (`spot: auto`) have
    something to decide: a job pinned to spot or to on-demand keeps its market, a job without both numbers has
    no progress line to keep."""
    return job.deadline_at is not None and spec.estimated_runtime is not None and spec.resources.spot == "auto"


def _running_hours(attempt: AttemptLike, until: datetime) -> float:
    if attempt.started_at is None:
        return 0.0
    end = attempt.ended_at if attempt.ended_at is not None and attempt.state not in ACTIVE else until
    return max(0.0, _hours(min(_utc(end), until) - _utc(attempt.started_at)))


def done_hours_for(attempts: Sequence[AttemptLike], events: Iterable[EventLike], now: datetime) -> tuple[float, str]:
    """(hours of work saved, where the figure comes from).

    Work that was never checkpointed is lost with its instance, so with checkpoint reports the progress is the
    latest uploaded version's: the version its attempt restored (0 for a fresh start) plus that attempt's running
    time up to the upload. Without any report (no store, an old agent) the running time of all attempts is the
    only evidence there is; it over-counts a job that restarts from scratch, which the safety net absorbs late.
    """
    by_id = {a.id: a for a in attempts}
    reports = sorted((e for e in events if e.kind == "checkpoint" and e.attempt_id in by_id), key=lambda e: e.at)
    if not reports:
        if all(a.started_at is None for a in attempts):
            return 0.0, "no run yet"
        return sum(_running_hours(a, now) for a in attempts), "running time of the attempts"
    saved: dict[str, float] = {}
    base: dict[str, float] = {}
    latest: tuple[str, float] | None = None
    for event in reports:
        attempt = by_id[event.attempt_id or ""]
        version = event.reason.removeprefix(RESTORED_PREFIX).removeprefix(UPLOADED_PREFIX).split(" ")[0]
        if event.reason.startswith(RESTORED_PREFIX):
            base[attempt.id] = saved.get(version, 0.0)
        elif event.reason.startswith(UPLOADED_PREFIX):
            start = _utc(attempt.started_at or attempt.launched_at or attempt.created_at)
            progress = base.get(attempt.id, 0.0) + max(0.0, _hours(min(_utc(event.at), now) - start))
            saved[version] = progress
            latest = (version, progress)
    if latest is None:  # only restores reported: the restored version is what is saved
        return max(base.values(), default=0.0), "restored checkpoint"
    return latest[1], f"checkpoint {latest[0]}"


def zones_for(offers: Iterable[Offer], blocked: Blocks, now: datetime,
              preemptions: Mapping[Pool, int]) -> tuple[tuple[ZoneStats, ...], float]:
    """(per-zone spot statistics in zone-name order, cheapest on-demand price) from the matching offers."""
    epoch = now.timestamp()
    spot: dict[str, list[Offer]] = {}
    on_demand: list[float] = []
    on_demand_open: list[float] = []
    for offer in offers:
        if offer.spot:
            spot.setdefault(offer.zone, []).append(offer)
        else:
            on_demand.append(offer.price_per_hour)
            if not blocked.blocks(offer, epoch):
                on_demand_open.append(offer.price_per_hour)
    zones: list[ZoneStats] = []
    for zone in sorted(spot):
        pools = spot[zone]
        open_pools = [o for o in pools if not blocked.blocks(o, epoch)]
        seen = sum(preemptions.get(o.pool, 0) for o in pools)
        price = min(o.price_per_hour for o in (open_pools or pools))
        if open_pools:
            zones.append(ZoneStats(zone, True, 0.0, PRIOR_RUN_HOURS / (1 + seen), 0.0, 1.0 / (1 + seen), price))
        else:
            until = min(b.until for o in pools if (b := blocked.why(o.pool, epoch)) is not None)
            zones.append(ZoneStats(zone, False, 0.0, 0.0, max(0.0, (until - epoch) / 3600.0), 0.0, price))
    prices = on_demand_open or on_demand
    spot_prices = [z.spot_price for z in zones]
    od_price = min(prices) if prices else _NO_ON_DEMAND_FACTOR * max(spot_prices, default=1.0 / 3)
    return tuple(zones), od_price


def deadline_state_for(job: JobLike, attempts: Sequence[AttemptLike], events: Iterable[EventLike],
                       offers: Iterable[Offer], now: datetime, settings: Settings, *,
                       blocked: Blocks | None = None, preemptions: Mapping[Pool, int] | None = None,
                       tick_seconds: float = WAIT_SECONDS, transfer_hours: float = 0.0) -> DeadlineState:
    """The `DeadlineState` of a job waiting for placement, from stored facts only (pure: no I/O, no clock).

    `offers`: the offers matching the job's request in either market (blocked ones included, `blocked` says
    which are out now); `preemptions`: our recent preemptions per pool; `events`: the job's events (only the
    checkpoint reports are read); `transfer_hours`: the time a new instance spends fetching the job's data, part of
    every changeover.
    """
    spec = JobSpec.model_validate(job.spec)
    if job.deadline_at is None or spec.estimated_runtime is None:
        raise ValueError("a deadline state needs the job's deadline and estimated_runtime")
    submitted = _utc(job.submitted_at)
    work = max(_hours(spec.estimated_runtime), 1e-6)
    done, _ = done_hours_for(attempts, events, now)
    zones, od_price = zones_for(offers, blocked or Blocks(), now, preemptions or {})
    return DeadlineState(
        now_hours=_hours(now - submitted), deadline_hours=max(_hours(_utc(job.deadline_at) - submitted), 1e-6),
        work_hours=work, done_hours=min(done, work),
        changeover_hours=settings.changeover_seconds / 3600.0 + max(0.0, transfer_hours),
        tick_hours=max(tick_seconds, settings.reconcile_interval_seconds) / 3600.0, market=Market.NONE, zone=None,
        changeover_left_hours=0.0, zones=zones, on_demand_price=od_price)


def changeover_transfer_hours(offers: Iterable[Offer], data: tuple[DataProfile, TransferRates] | None) -> float:
    """How long a new instance spends fetching the job's data (checkpoint, workdir, inputs) before it makes
    progress: the longest over the matching offers. Why the longest: the policy has one changeover for every
    move, and its safety net must never count on a move being quicker than it can be."""
    if data is None or not data[0].items:
        return 0.0
    profile, rates = data
    return max((transfer_plan(o, profile, rates)[2] for o in offers), default=0.0)


def describe(decision: Decision, state: DeadlineState, source: str) -> str:
    """The event text: the policy's reason and the numbers it saw."""
    left = state.deadline_hours - state.now_hours
    where = f" in {decision.zone}" if decision.zone else ""
    return (f"deadline policy: {decision.market.value}{where}: {decision.reason} "
            f"(done {state.done_hours:.2f} h of {state.work_hours:.2f} h from {source}, {left:.2f} h to the "
            f"deadline, slack {state.slack:.2f} h, safety net below {state.safety_slack:.2f} h)")


def hourly_cost(decision: Decision, state: DeadlineState, nodes: int, *, on_demand_assumed: bool = False) -> str:
    """The event's dollar figure: what the decided market costs the whole job an hour, "" for a wait.

    The policy compares per-node prices (every node of a gang runs in the same market, so the comparison is the
    same), but a gang pays `nodes` times that, and the event is what an operator reads the bill from."""
    if decision.market is Market.SPOT:
        prices = [z.spot_price for z in state.zones if z.zone == decision.zone]
        if not prices:
            return ""
        price, what = prices[0], f"spot in {decision.zone}"
    elif decision.market is Market.ON_DEMAND:
        price, what = state.on_demand_price, "on-demand" + (" (assumed: no on-demand offer matches)"
                                                           if on_demand_assumed else "")
    else:
        return ""
    nodes = max(1, nodes)
    each = f" ({nodes} nodes at ${price:.4g}/h each)" if nodes > 1 else ""
    return f"; {what} costs the job about ${price * nodes:.4g}/h{each}"


def apply_deadline(s: Session, settings: Settings, job: Job, req: PlacementRequest, index: OfferIndex,
                   blocked: Blocks, preemptions: Mapping[Pool, int], now: datetime,
                   backoff_seconds: float, data: tuple[DataProfile, TransferRates] | None = None,
                   ) -> tuple[PlacementRequest, str | None] | None:
    """Decide for a job about to be placed and record the decision. Returns the request to rank (spot or
    on-demand) with the zone to prefer, or None when the job was left waiting (WAITING_CAPACITY, decided again
    after the tick). `backoff_seconds`: how long a failed pass would make the job wait (part of the tick)."""
    matching = [r.offer for r in index.rank(dataclasses.replace(req, spot="auto"), limit=max(index.size, 1))]
    attempts = list(s.scalars(select(Attempt).where(Attempt.job_id == job.id).order_by(Attempt.number)))
    events = list(s.scalars(select(JobEvent).where(JobEvent.job_id == job.id, JobEvent.kind == "checkpoint")))
    tick = max(WAIT_SECONDS, backoff_seconds)
    state = deadline_state_for(job, attempts, events, matching, now, settings, blocked=blocked,
                               preemptions=preemptions, tick_seconds=tick,
                               transfer_hours=changeover_transfer_hours(matching, data))
    policy = settings.deadline_policy if settings.deadline_policy in POLICIES else DEFAULT_POLICY
    decision = decide(state, policy)
    _, source = done_hours_for(attempts, events, now)
    nodes = JobSpec.model_validate(job.spec).resources.num_nodes
    text = describe(decision, state, source) + hourly_cost(decision, state, nodes,
                                                           on_demand_assumed=all(o.spot for o in matching))
    if decision.market is Market.NONE and state.finished:  # the estimate is used up: the policy has no say left
        T.record_event(s, job.id, text + "; the estimated runtime is used up, placing as the spec says",
                       kind=EVENT_KIND)
        return req, None
    T.record_event(s, job.id, text, kind=EVENT_KIND)
    if decision.market is Market.NONE:
        until = now + timedelta(seconds=tick)
        if job.state != JobState.WAITING_CAPACITY:
            T.wait_for_capacity(s, job, f"deadline policy waits: {decision.reason}", until)
        else:
            job.not_before = until
        return None
    return dataclasses.replace(req, spot=decision.market is Market.SPOT), decision.zone


def rank_preferring(index: OfferIndex, req: PlacementRequest, zone: str | None, blocked: Blocks, *,
                    priors: Priors | None, now: float, limit: int) -> list[RankedOffer]:
    """`index.rank`, with the decided zone's best offers first and the others after them as failover (a plain
    re-sort of the top `limit` could miss the zone altogether)."""
    ranked = index.rank(req, blocked, priors=priors, now=now, limit=limit)
    if zone is None:
        return ranked
    preferred = index.rank(dataclasses.replace(req, zones=(zone,)), blocked, priors=priors, now=now, limit=limit)
    if not preferred:
        return ranked
    first = preferred[0]
    preferred[0] = RankedOffer(first.offer, f"deadline policy's zone {zone}: {first.reason}", first.expected_cost)
    pools = {r.offer.pool for r in preferred}
    return (preferred + [r for r in ranked if r.offer.pool not in pools])[:limit]
