"""Causal run-length model of the allowed zones, for the dynamic-programming deadline policy (`deadline_dp.py`).

`ZoneStats` (availability.py) answer "how long will this zone's capacity last"; the dynamic program needs the
shape of the whole future instead: how a spot instance's run ends (its zone's hazard by age), whether another
zone could take over when it does (is the run "backed"), and how long an outage of every zone lasts. A
`UnionHistory` is fed one tick of per-zone availability at a time and summarises what it has seen into a
`RunModel`; like `ZoneHistory` it never looks past the present, so the simulator cannot leak the future of a
trace into a decision. The model is re-estimated only as history grows by a factor (`REFRESH_GROWTH`), so the
policy can reuse the program it solved for it.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from policies.availability import PRIOR_RUN_HOURS

#: Lower edges, in model units, of the age buckets a hazard is estimated for (the last bucket is open-ended).
#: Narrow where hazards change fast (young runs die often), wide where data thins out.
AGE_EDGES: tuple[int, ...] = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 72, 108)
#: Target length of one model unit (hours): ticks are grouped so the dynamic program stays small on fine traces.
UNIT_HOURS = 1.0 / 6.0
#: Prior mean length of an outage, hours (an up-run's prior is PRIOR_RUN_HOURS).
PRIOR_DOWN_HOURS = 1.0
#: Pseudo-exposure of the prior in every age bucket, in units: sparse buckets lean on it, busy ones ignore it.
PRIOR_EXPOSURE_UNITS = 4.0
#: Re-estimate each time the history has grown by this factor (first after MIN_HISTORY_HOURS).
REFRESH_GROWTH = 1.25
MIN_HISTORY_HOURS = 12.0


@dataclass(frozen=True, slots=True)
class RunModel:
    """Per-unit chances, by age bucket (`AGE_EDGES`), of the runs the deadline policy lives through.

    `up_hazard[b]`: a zone's available run (the one a spot instance lives on) of age bucket b ends within the
    next unit; `down_hazard[b]`: the same for an outage of every zone at once. `backup_gain`/`backup_loss`: a
    lone available zone gets company / a backed one loses all of it, per unit. `switch_age[b]`: when a backed
    zone's run ends, the chance the zone taken over is in bucket b; `switch_backed`: that it is itself backed.
    Rounded, so equal histories give equal (hashable) models.
    """

    unit_hours: float
    up_hazard: tuple[float, ...]
    down_hazard: tuple[float, ...]
    backup_gain: float = 0.0
    backup_loss: float = 1.0
    switch_age: tuple[float, ...] = ()
    switch_backed: float = 0.0


@dataclass(frozen=True, slots=True)
class Outlook:
    """The model plus where the zones stand now: spot somewhere or not, and how long the outage has lasted."""

    model: RunModel
    up: bool
    age_hours: float


def unit_ticks(tick_hours: float) -> int:
    """How many ticks make one model unit (at least one)."""
    return max(1, round(UNIT_HOURS / tick_hours))


def age_bucket(age_units: float) -> int:
    """The `AGE_EDGES` bucket an age (in units) falls in."""
    return max(0, bisect_right(AGE_EDGES, age_units) - 1)


def _hazards(runs: list[int], ongoing: list[int], ticks_per_unit: int, prior_hours: float,
             unit: float) -> tuple[float, ...]:
    """Piecewise-constant hazard per age bucket: events / exposure (runs still going count as exposure only),
    blended with a geometric prior of mean `prior_hours`."""
    edges = AGE_EDGES
    events = [0.0] * len(edges)
    exposure = [0.0] * len(edges)
    for length, ended in [(r, True) for r in runs] + [(r, False) for r in ongoing]:
        units = length / ticks_per_unit
        for b, lo in enumerate(edges):
            hi = edges[b + 1] if b + 1 < len(edges) else float("inf")
            if units <= lo:
                break
            exposure[b] += min(units, hi) - lo
            if ended and units <= hi:
                events[b] += 1.0
    h0 = min(1.0, unit / prior_hours)
    return tuple(round(min(1.0, (e + h0 * PRIOR_EXPOSURE_UNITS) / (x + PRIOR_EXPOSURE_UNITS)), 3)
                 for e, x in zip(events, exposure, strict=True))


def _per_unit(events: int, ticks: int, m: int, prior: float) -> float:
    """A per-tick rate (with one pseudo-event at `prior` per unit) turned into a per-unit chance."""
    per_tick = (events + prior / m) / (ticks + 1.0)
    return round(1.0 - (1.0 - min(1.0, per_tick)) ** m, 3)


def prior_model(tick_hours: float) -> RunModel:
    """The model before any history: geometric runs of PRIOR_RUN_HOURS up, PRIOR_DOWN_HOURS down, no backup."""
    m = unit_ticks(tick_hours)
    unit = m * tick_hours
    return RunModel(round(unit, 6), _hazards([], [], m, PRIOR_RUN_HOURS, unit),
                    _hazards([], [], m, PRIOR_DOWN_HOURS, unit))


@dataclass
class UnionHistory:
    """Incremental, causal history of the allowed zones, summarised into a `RunModel` as it grows."""

    tick_hours: float
    _zone_runs: list[int] = field(default_factory=list)
    _outages: list[int] = field(default_factory=list)
    _ages: list[int] = field(default_factory=list)
    _prev: tuple[bool, ...] = ()
    _union_age: int = 0
    _alone: list[int] = field(default_factory=lambda: [0, 0])  # [ticks with one zone up, of which gained one]
    _backed: list[int] = field(default_factory=lambda: [0, 0])  # [ticks with 2+ up, of which fell to one]
    _switch_ages: list[int] = field(default_factory=list)
    _switch_backed: int = 0
    _seen: int = 0
    _model: RunModel | None = None
    _next_refresh: int = 0

    def __post_init__(self) -> None:
        self._model = prior_model(self.tick_hours)
        self._next_refresh = max(1, round(MIN_HISTORY_HOURS / self.tick_hours))

    def observe(self, available: tuple[bool, ...] | list[bool]) -> Outlook:
        """Record one tick of per-zone availability; the outlook as of now (this tick included)."""
        now = tuple(bool(a) for a in available)
        up = any(now)
        if self._prev:
            was_up = any(self._prev)
            if up and not was_up:
                self._outages.append(self._union_age)
            self._union_age = self._union_age + 1 if up == was_up else 1
            self._count(now)
        else:
            self._ages = [1] * len(now)
            self._union_age = 1
        self._prev = now
        self._seen += 1
        if self._seen >= self._next_refresh:
            self._model = self._fit()
            self._next_refresh = max(self._seen + 1, round(self._seen * REFRESH_GROWTH))
        assert self._model is not None
        return Outlook(self._model, up, self._union_age * self.tick_hours)

    def _count(self, now: tuple[bool, ...]) -> None:
        """Close the runs of zones that just lost capacity (noting who could take over); count backup changes."""
        m = unit_ticks(self.tick_hours)
        before, after = sum(self._prev), sum(now)
        if before == 1:
            self._alone[0] += 1
            self._alone[1] += after >= 2
        elif before >= 2:
            self._backed[0] += 1
            self._backed[1] += after == 1
        for z, (was, is_up) in enumerate(zip(self._prev, now, strict=True)):
            if was and not is_up:
                self._zone_runs.append(self._ages[z])
                others = [self._ages[o] + 1 if self._prev[o] else 1 for o in range(len(now)) if o != z and now[o]]
                if others:
                    self._switch_ages.append(age_bucket(max(others) / m))
                    self._switch_backed += len(others) >= 2
        self._ages = [a + 1 if b == n else 1 for a, b, n in zip(self._ages, self._prev, now, strict=True)]

    def _fit(self) -> RunModel:
        m = unit_ticks(self.tick_hours)
        unit = m * self.tick_hours
        ongoing_up = [a for a, u in zip(self._ages, self._prev, strict=True) if u]
        ongoing_down = [] if any(self._prev) else [self._union_age]
        counts = [0.0] * len(AGE_EDGES)
        for b in self._switch_ages:
            counts[b] += 1.0
        total = sum(counts)
        ages = tuple(round(c / total, 2) for c in counts) if total else ()
        backed = round(self._switch_backed / total, 2) if total else 0.0
        return RunModel(round(unit, 6), _hazards(self._zone_runs, ongoing_up, m, PRIOR_RUN_HOURS, unit),
                        _hazards(self._outages, ongoing_down, m, PRIOR_DOWN_HOURS, unit),
                        _per_unit(self._alone[1], self._alone[0], m, 0.0),
                        _per_unit(self._backed[1], self._backed[0], m, 1.0), ages, backed)


def outlook_series(available: list[list[bool]], tick_hours: float) -> list[Outlook]:
    """The outlook at every tick of per-zone series (`available[z][t]`), each from ticks <= t only."""
    history = UnionHistory(tick_hours)
    return [history.observe(col) for col in zip(*available, strict=True)]
