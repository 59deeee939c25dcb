"""Caps from the policy file: max price per hour, max runtime and max cost per job. Pure.

Several caps can match one job (global, its team, its project, a label); the strictest value of
each field wins, so adding a cap can only tighten what a job may do.
- `max_price_per_hour` is a placement filter: offers above it are never launched (it combines with
  the job's own `resources.max_price_per_hour`, again the lower wins).
- `max_runtime` counts the job's paid instance time over all its attempts (what the ledger bills),
  not queue time: a job that waited a day for capacity has not run.
- `max_cost_per_job` is checked on committed cost, like budgets: spent plus the current price for
  the time until the stop can take effect (`horizon_s` = sweep interval + checkpoint grace), so the
  stop starts before the cap is passed rather than after.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from policies.money import rate, usd


@dataclass(frozen=True)
class JobLimits:
    max_price_per_hour: float | None = None
    max_runtime_s: float | None = None
    max_cost_usd: float | None = None

    @property
    def enforced_while_running(self) -> bool:
        return self.max_runtime_s is not None or self.max_cost_usd is not None


def _min(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def strictest(caps: Iterable[tuple[float | None, float | None, float | None]]) -> JobLimits:
    """(max price/h, max runtime s, max cost) of every matching cap -> the strictest of each."""
    rows = list(caps)
    return JobLimits(_min(r[0] for r in rows), _min(r[1] for r in rows), _min(r[2] for r in rows))


def price_limit(limits: JobLimits, job_max_price: float | None) -> float | None:
    """The price ceiling placement applies: the job's own and the caps', whichever is lower."""
    return _min((limits.max_price_per_hour, job_max_price))


@dataclass(frozen=True)
class CapBreach:
    field: str  # max_runtime | max_cost_per_job
    reason: str


def breach(limits: JobLimits, *, runtime_s: float, spent_usd: float, price_per_hour: float,
           horizon_s: float) -> CapBreach | None:
    """The cap a running job has reached, if any (runtime first: it is the user's explicit bound)."""
    if limits.max_runtime_s is not None and runtime_s >= limits.max_runtime_s:
        return CapBreach("max_runtime", f"max_runtime cap of {limits.max_runtime_s:g}s reached "
                                        f"(ran {runtime_s:.0f}s)")
    if limits.max_cost_usd is not None:
        committed = spent_usd + price_per_hour * horizon_s / 3600.0
        if committed >= limits.max_cost_usd:
            return CapBreach("max_cost_per_job", f"max_cost_per_job cap of {usd(limits.max_cost_usd)} reached "
                                                 f"({usd(spent_usd)} spent, {usd(committed)} committed at "
                                                 f"{rate(price_per_hour)})")
    return None
