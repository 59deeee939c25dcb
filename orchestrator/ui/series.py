"""Spend over time, cut into buckets per team or cloud: the Spend page's stacked chart. Pure.

Why a new series: `/v1/costs` sums the ledger per group but has no time axis, and a budget line
means little without the curve that approaches it. Ledger entries can span several buckets (a
closed instance's last entry covers everything since the previous accrual), so each entry's cost
is spread over the buckets it overlaps in proportion to the seconds in each: the bucket sums then
add up exactly to `/v1/costs` for the same window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

SERIES_GROUPS = ("team", "cloud")


@dataclass(frozen=True)
class Piece:
    """One ledger entry reduced to what the series needs."""

    key: str
    start: datetime
    end: datetime
    cost: float


def bucket_costs(pieces: Iterable[Piece], since: datetime, until: datetime, step: timedelta
                 ) -> tuple[list[datetime], dict[str, list[float]]]:
    """Bucket starts in [since, until) and, per key, the cost that fell in each bucket."""
    if step.total_seconds() <= 0 or until <= since:
        raise ValueError("the window must be non-empty and the step positive")
    count = int((until - since) / step) + (1 if (until - since) % step else 0)
    starts = [since + i * step for i in range(count)]
    out: dict[str, list[float]] = defaultdict(lambda: [0.0] * count)
    for p in pieces:
        lo, hi = max(p.start, since), min(p.end, until)
        span = (p.end - p.start).total_seconds()
        if hi <= lo or span <= 0:
            if span <= 0 and since <= p.start < until:  # a zero-length entry: count it where it starts
                out[p.key][int((p.start - since) / step)] += p.cost
            continue
        i = int((lo - since) / step)
        while i < count and starts[i] < hi:
            b_lo, b_hi = max(lo, starts[i]), min(hi, starts[i] + step)
            if b_hi > b_lo:
                out[p.key][i] += p.cost * (b_hi - b_lo).total_seconds() / span
            i += 1
    return starts, dict(out)
