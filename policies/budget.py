"""Budgets: spend vs limit -> threshold crossings, enforcement actions and the forecast alert. Pure.

Spend of running instances counts as committed: a threshold is crossed when
`spent + burn_rate x sweep_interval` reaches it, i.e. when the spend that will have happened by the
next sweep would reach it. A `stop` therefore fires one sweep early rather than one sweep late, and
the overspend past the limit is bounded by (running instances x their price x one sweep interval):
the only spend the sweep cannot see coming is that of instances launched since the last sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from policies.money import rate, usd

ACTION_ORDER = ("alert", "block_new", "stop")


@dataclass(frozen=True)
class Crossing:
    percent: float
    action: str


@dataclass(frozen=True)
class BudgetVerdict:
    spent: float
    committed: float
    limit: float
    crossed: tuple[Crossing, ...]
    forecast: float | None  # projected spend at period end, when that passes the limit
    reason: str

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(c.action for c in self.crossed)


def period_bounds(period: str, timezone: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """[start, end) of the budget period containing `now`, in UTC; (None, None) for 'total'."""
    if period == "total":
        return None, None
    local = now.astimezone(ZoneInfo(timezone))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        start, end = day, day + timedelta(days=1)
    elif period == "weekly":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == "monthly":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"unknown period {period!r}")
    # re-attach the zone so DST shifts inside the period land on local midnight
    zone = ZoneInfo(timezone)
    return (start.replace(tzinfo=zone).astimezone(now.tzinfo), end.replace(tzinfo=zone).astimezone(now.tzinfo))


def scope_matches(scope: str, team: str, project: str | None, labels: Mapping[str, str]) -> bool:
    kind, _, arg = scope.partition(":")
    if kind == "global":
        return True
    if kind == "team":
        return team == arg
    if kind == "project":
        return project == arg
    if kind == "label":
        key, _, value = arg.partition("=")
        return labels.get(key) == value
    raise ValueError(f"unknown scope {scope!r}")


def evaluate(*, limit: float, thresholds: Sequence[tuple[float, str]], spent: float, burn_per_hour: float,
             now: datetime, period_end: datetime | None, sweep_interval_s: float,
             forecast: bool = True) -> BudgetVerdict:
    """Which thresholds are crossed (on committed spend) and whether to warn of a projected overrun."""
    committed = spent + burn_per_hour * sweep_interval_s / 3600.0
    crossed = tuple(Crossing(p, a) for p, a in sorted(thresholds) if committed >= limit * p / 100.0)
    projected = None
    if forecast and period_end is not None and committed < limit:
        hours_left = max(0.0, (period_end - now).total_seconds() / 3600.0)
        estimate = spent + burn_per_hour * hours_left
        if estimate > limit:
            projected = estimate
    pct = 100.0 * committed / limit
    reason = f"{usd(spent)} spent, {usd(committed)} committed of {usd(limit)} ({pct:.0f}%)"
    if crossed:
        reason += "; crossed " + ", ".join(f"{c.percent:g}% ({c.action})" for c in crossed)
    if projected is not None:
        reason += f"; burn rate {rate(burn_per_hour)} projects {usd(projected)} by period end"
    return BudgetVerdict(spent, committed, limit, crossed, projected, reason)


def overspend_bound(running_prices_per_hour: Sequence[float], sweep_interval_s: float) -> float:
    """The most a budget can be overrun by while the sweep runs: running $/h x one sweep interval.
    Why "while the sweep runs": nothing enforces while every replica is down, so a real deployment's
    bound adds the downtime (docs/spending.md)."""
    return sum(running_prices_per_hour) * sweep_interval_s / 3600.0


def threshold_subject(budget: str, percent: float, action: str, thresholds: Sequence[tuple[float, str]]) -> str:
    """`budget b crossed 50% (alert), threshold 1 of 2`: one sweep can cross several thresholds at once, and
    their alerts must say apart which is which."""
    ordered = sorted(thresholds)
    place = ordered.index((percent, action)) + 1 if (percent, action) in ordered else 0
    where = f", threshold {place} of {len(ordered)}" if place and len(ordered) > 1 else ""
    return f"budget {budget} crossed {percent:g}% ({action}){where}"
