"""Causal statistics of spot availability per zone: how long capacity has lasted, how long it will likely last.

Pure and incremental: a `ZoneHistory` is fed one observation per tick (available or not) and answers questions
about the present from the past only. The daemon feeds it from launch probes and preemptions; the simulator feeds
it from a trace. Both then hand the same numbers (`ZoneStats`) to the deadline policy, so the benchmark measures
what production does and no policy can peek at the future of a trace.

The lifetime estimate is the empirical mean residual life of past available runs, E[L - a | L > a] at the current
age a, blended with a prior so that a zone with little history is neither trusted nor condemned. Spot lifetimes
are heavy-tailed (a run that has lasted long tends to keep lasting), which this estimate captures and a plain
mean does not.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass, field

#: Prior used before a zone has history: a few pseudo-runs of this many hours.
PRIOR_RUN_HOURS = 2.0
PRIOR_WEIGHT = 2.0


@dataclass(frozen=True, slots=True)
class ZoneStats:
    """What the deadline policy knows about one zone at one moment (all durations in hours).

    `expected_up_hours` is how much longer spot capacity is expected to last if we take it now (0 when there is
    none); `expected_down_hours` is how much longer an outage is expected to last (0 when capacity is there).
    """

    zone: str
    available: bool
    age_hours: float
    expected_up_hours: float
    expected_down_hours: float
    availability: float
    spot_price: float = 1.0


class _Runs:
    """Completed run lengths (in ticks), kept sorted with suffix sums for O(log n) mean-residual queries."""

    __slots__ = ("lengths", "_suffix", "_dirty")

    def __init__(self) -> None:
        self.lengths: list[int] = []
        self._suffix: list[int] = [0]
        self._dirty = False

    def add(self, length: int) -> None:
        insort(self.lengths, length)
        self._dirty = True

    def residual(self, age: int, prior_ticks: float) -> float:
        """Mean residual length, in ticks, of runs that reached `age`, shrunk towards `prior_ticks`."""
        if self._dirty:
            suffix = [0] * (len(self.lengths) + 1)
            for i in range(len(self.lengths) - 1, -1, -1):
                suffix[i] = suffix[i + 1] + self.lengths[i]
            self._suffix = suffix
            self._dirty = False
        i = bisect_right(self.lengths, age)
        count = len(self.lengths) - i
        total = self._suffix[i] - count * age
        return (total + PRIOR_WEIGHT * prior_ticks) / (count + PRIOR_WEIGHT)


@dataclass
class ZoneHistory:
    """Incremental, causal availability history of one zone (observations arrive once per tick)."""

    zone: str
    tick_hours: float
    spot_price: float = 1.0
    _up: _Runs = field(default_factory=_Runs)
    _down: _Runs = field(default_factory=_Runs)
    _state: bool | None = None
    _age: int = 0
    _seen: int = 0
    _seen_up: int = 0

    def observe(self, available: bool) -> ZoneStats:
        """Record this tick's observation and return the statistics as of now (this tick included)."""
        if available == self._state:
            self._age += 1
        else:
            if self._state is not None:
                (self._up if self._state else self._down).add(self._age)
            self._state = available
            self._age = 1
        self._seen += 1
        self._seen_up += available
        return self.stats()

    def stats(self) -> ZoneStats:
        """The current statistics; the ongoing run counts as at least its age so far (it is not over yet)."""
        prior = PRIOR_RUN_HOURS / self.tick_hours
        up = down = 0.0
        if self._state:
            up = self._up.residual(self._age, max(prior, self._age)) * self.tick_hours
        elif self._state is not None:
            down = self._down.residual(self._age, max(prior, self._age)) * self.tick_hours
        share = (self._seen_up + 1) / (self._seen + 2)
        return ZoneStats(self.zone, bool(self._state), self._age * self.tick_hours, up, down, share,
                         self.spot_price)


def zone_stats_series(zone: str, available: list[bool] | list[int], tick_hours: float,
                      spot_price: float = 1.0) -> list[ZoneStats]:
    """The statistics at every tick of a whole series, each computed from that tick and the ones before it."""
    history = ZoneHistory(zone, tick_hours, spot_price)
    return [history.observe(bool(v)) for v in available]
