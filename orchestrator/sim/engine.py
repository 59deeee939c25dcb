"""Replay one job tick by tick through a deadline policy: the simulator's only model of time and money.

Rules (Can't Be Late, NSDI'24, as the benchmark states them): one decision per tick; a spot instance runs while its
zone's trace is > 0 and is preempted at the first tick where it is not; every new instance (the first one
included) first spends the changeover d without progress, paid at its own price; money is charged per hour an
instance runs, up to the moment the work completes. The engine never decides: it builds the `DeadlineState`,
calls the policy, checks the answer is legal (spot only where there is capacity) and applies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policies.availability import ZoneStats
from policies.deadline import DeadlineState, Market, Policy
from policies.outlook import Outlook

_EPS = 1e-9
ON_DEMAND = "on-demand"  # the key of the on-demand instance's extra hours in `SimJob.extra_hours`


@dataclass(frozen=True, slots=True)
class SimJob:
    """A recoverable job: hours of work, deadline after submission, changeover per new instance."""

    work_hours: float
    deadline_hours: float
    changeover_hours: float
    # Data gravity: extra hours a move into a zone spends fetching the job's data ("on-demand": the on-demand
    # instance's), on top of the changeover. The policy sees the changeover plus the longest of them, as the
    # daemon's deadline policy does (orchestrator/provisioning/deadline.py: changeover_transfer_hours).
    extra_hours: tuple[tuple[str, float], ...] = ()

    def extra(self, zone: str | None) -> float:
        return dict(self.extra_hours).get(zone or ON_DEMAND, 0.0)

    @property
    def policy_changeover(self) -> float:
        return self.changeover_hours + max((h for _, h in self.extra_hours), default=0.0)


@dataclass(frozen=True, slots=True)
class JobResult:
    """What one replay cost. `cost` is in spot-price-hours (multiply by the spot $/h for dollars)."""

    cost: float
    finish_hours: float
    missed: bool
    changeovers: int
    preemptions: int
    spot_hours: float
    on_demand_hours: float
    moves: tuple[str, ...] = ()  # where each changeover went: a zone, or "on-demand"


class PolicyError(RuntimeError):
    """The policy asked for something impossible (spot where there is no capacity, an unknown zone)."""


def replay(views: Sequence[tuple[ZoneStats, ...]], start: int, job: SimJob, policy: Policy,
           tick_hours: float, on_demand_price: float,
           outlooks: Sequence[Outlook] | None = None) -> JobResult:
    """Run `job` from tick `start` of `views` (per-tick zone statistics) until done or past its deadline.

    `outlooks` (per tick, like `views`): the union's causal model handed to the policy; None leaves it to the
    policy's prior, as in a daemon without history.
    """
    g, d = tick_hours, job.policy_changeover
    n_ticks = min(int(job.deadline_hours / g + _EPS) + 1, len(views) - start)
    market, zone, zone_i = Market.NONE, None, -1
    price = over = done = cost = spot_h = od_h = 0.0
    changeovers = preemptions = 0
    moves: list[str] = []
    t = 0
    while t < n_ticks:
        zones = views[start + t]
        if market is Market.SPOT and not zones[zone_i].available:
            market, zone, over = Market.NONE, None, 0.0
            preemptions += 1
        now = t * g
        state = DeadlineState(now, job.deadline_hours, job.work_hours, done, d, g, market, zone, over, zones,
                              on_demand_price, outlooks[start + t] if outlooks is not None else None)
        decision = policy(state)
        if decision.market is Market.NONE:
            if done >= job.work_hours - _EPS:
                break
            market, zone = Market.NONE, None
            t += 1
            continue
        if decision.market is not market or decision.zone != zone:
            market, zone = decision.market, decision.zone
            over = job.changeover_hours + job.extra(zone if market is Market.SPOT else None)
            changeovers += 1
            moves.append(zone if market is Market.SPOT and zone else ON_DEMAND)
            if market is Market.SPOT:
                zone_i = _zone_index(zones, zone)
                price = zones[zone_i].spot_price
            else:
                price = on_demand_price
        span = g
        if decision.final and market is Market.ON_DEMAND:
            span = max(0.0, job.deadline_hours - now) + g
        needed = over + job.work_hours - done
        run = min(span, needed)
        progress = max(0.0, run - over)
        over = max(0.0, over - run)
        done = min(job.work_hours, done + progress)
        cost += price * run
        if market is Market.SPOT:
            spot_h += run
        else:
            od_h += run
        if run >= needed - _EPS:
            done = job.work_hours
            finish = now + run
            break
        t += 1
    else:
        finish = n_ticks * g
    missed = done < job.work_hours - _EPS or finish > job.deadline_hours + 1e-6
    return JobResult(cost, finish, missed, changeovers, preemptions, spot_h, od_h, tuple(moves))


def _zone_index(zones: tuple[ZoneStats, ...], zone: str | None) -> int:
    for i, z in enumerate(zones):
        if z.zone == zone:
            if not z.available:
                raise PolicyError(f"policy chose spot in {zone} where the trace has no capacity")
            return i
    raise PolicyError(f"policy chose unknown zone {zone!r}; allowed: {[z.zone for z in zones]}")
