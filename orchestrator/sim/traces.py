"""Loading availability traces, one file per zone, in either of the two formats the published traces use.

- JSON (`availability/1-node/`): `{"metadata": {"gap_seconds": g}, "data": [...]}`; a value > 0 at index i means
  spot capacity was available during tick i.
- Raw probe logs (`raw-probe-logs-2022/`, `.txt` or `.csv`): `index,timestamp,preempted` per line, where
  preempted = 1 means the launch probe found no capacity. They hold periods the JSON files do not (2022-11-28
  and 2022-12-13), which is what lets the benchmark test the policy on traces it was not tuned on.

 Files of a set must share their tick
length and are cut to the shortest, so that every zone has a value at every tick. Zones are kept in sorted name
order: the baselines take "the first available zone", and a fixed order makes every run reproducible.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from policies.availability import ZoneStats, zone_stats_series
from policies.outlook import Outlook, outlook_series


@dataclass(frozen=True)
class TraceSet:
    """Availability of several zones on a common tick grid (`capacity[z, t]`, instances available)."""

    name: str
    zones: tuple[str, ...]
    tick_hours: float
    capacity: np.ndarray
    #: Spot price per zone (same order as `zones`) and the on-demand price, in USD per hour, when a catalog
    #: priced the set (`with_prices`); None: a spot hour costs 1 and on-demand the caller's k.
    spot_prices: tuple[float, ...] | None = None
    on_demand_price: float | None = None

    @property
    def ticks(self) -> int:
        return int(self.capacity.shape[1])

    def subset(self, zones: list[str] | tuple[str, ...]) -> TraceSet:
        """The same traces restricted to `zones` (kept in sorted order); unknown names list the valid ones."""
        unknown = sorted(set(zones) - set(self.zones))
        if unknown:
            raise ValueError(f"unknown zones {unknown}; this trace set has {list(self.zones)}")
        keep = sorted(set(zones))
        rows = [self.zones.index(z) for z in keep]
        prices = None if self.spot_prices is None else tuple(self.spot_prices[i] for i in rows)
        return TraceSet(self.name, tuple(keep), self.tick_hours, self.capacity[rows], prices, self.on_demand_price)

    def with_prices(self, spot: dict[str, float], on_demand: float) -> TraceSet:
        """The same traces priced per zone (e.g. from `orchestrator.sim.prices.catalog_prices`)."""
        missing = [z for z in self.zones if z not in spot]
        if missing:
            raise ValueError(f"no spot price for zone(s) {', '.join(missing)}")
        bad = [f"{z}={spot[z]!r}" for z in self.zones if not (0 < spot[z] < float("inf"))]
        if bad or not (0 < on_demand < float("inf")):
            raise ValueError(f"prices must be positive and finite: {', '.join(bad) or f'on-demand={on_demand!r}'}")
        return TraceSet(self.name, self.zones, self.tick_hours, self.capacity,
                        tuple(float(spot[z]) for z in self.zones), float(on_demand))

    def zone_stats(self) -> list[tuple[ZoneStats, ...]]:
        """Causal per-zone statistics for every tick: `result[t][z]` uses only ticks <= t of zone z."""
        prices = self.spot_prices or (1.0,) * len(self.zones)
        series = [zone_stats_series(z, (self.capacity[i] > 0).tolist(), self.tick_hours, prices[i])
                  for i, z in enumerate(self.zones)]
        return list(zip(*series, strict=True))

    def outlooks(self) -> list[Outlook]:
        """The union's causal outlook for every tick: `result[t]` uses only ticks <= t of every zone."""
        return outlook_series([(row > 0).tolist() for row in self.capacity], self.tick_hours)


def zone_name(path: Path) -> str:
    """`us-west-2a_v100_1.json` -> `us-west-2a`: the zone is the file name up to the first underscore."""
    return path.stem.split("_", 1)[0]


#: File suffixes read as raw probe logs (`index,timestamp,preempted`); anything else is read as JSON.
PROBE_LOG_SUFFIXES = (".txt", ".csv")


@dataclass(frozen=True)
class _ZoneTrace:
    values: list[int]
    gap_seconds: int
    start: datetime | None


def _read_json(path: Path) -> _ZoneTrace:
    try:
        doc = json.loads(path.read_text())
        return _ZoneTrace([int(v) for v in doc["data"]], int(doc["metadata"]["gap_seconds"]), None)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not an availability trace ({type(exc).__name__}: {exc}); expected "
                         '{"metadata": {"gap_seconds": g}, "data": [...]}') from None


def _read_probe_log(path: Path) -> _ZoneTrace:
    """A raw probe log -> availability (1 - preempted). The tick is the median probe interval, rounded to the
    second (probes drift by a second now and then); a gap of two intervals or more means probes are missing and
    the log cannot be replayed on a fixed grid, so it is refused rather than silently compressed."""
    stamps: list[datetime] = []
    values: list[int] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        if number == 1 and parts[0].strip().lower() == "index":
            continue  # a header row, as a spreadsheet export writes one
        try:
            if len(parts) != 3 or parts[2].strip() not in ("0", "1"):
                raise ValueError("expected index,timestamp,preempted with preempted 0 or 1")
            stamps.append(datetime.fromisoformat(parts[1].strip().replace("Z", "+00:00")))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not a probe log line ({exc}): {line[:80]!r}") from None
        values.append(1 - int(parts[2]))
    if len(stamps) < 2:
        raise ValueError(f"{path}: a probe log needs at least two probes to give a tick length")
    steps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    gap = round(statistics.median(steps))
    worst = max(steps)
    if gap <= 0 or worst >= 1.5 * gap or min(steps) <= 0:
        raise ValueError(f"{path}: probes are not evenly spaced (median {gap} s, longest gap {worst:.0f} s, "
                         f"shortest {min(steps):.0f} s); fill or cut the log before replaying it")
    return _ZoneTrace(values, gap, stamps[0])


def load_trace_set(directory: str | Path, pattern: str = "*.json", name: str | None = None) -> TraceSet:
    """Load every file matching `pattern` in `directory` as one zone each (JSON, or probe logs: see the module)."""
    directory = Path(directory)
    files = sorted(directory.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no trace files matching {pattern!r} in {directory}; point --traces at a "
                                "folder such as ../shared/data/spot-traces/availability/1-node/aws-02-15-2023")
    zones: dict[str, _ZoneTrace] = {}
    for f in files:
        zone = zone_name(f)
        if zone in zones:
            raise ValueError(f"two files for zone {zone} in {directory}; narrow the pattern (e.g. '*_v100_1.json')")
        zones[zone] = _read_probe_log(f) if f.suffix.lower() in PROBE_LOG_SUFFIXES else _read_json(f)
    gaps = {t.gap_seconds for t in zones.values()}
    if len(gaps) != 1:
        raise ValueError(f"trace files in {directory} mix tick lengths {sorted(gaps)}")
    gap = gaps.pop()
    starts = [t.start for t in zones.values() if t.start is not None]
    if starts and (max(starts) - min(starts)).total_seconds() >= gap:
        raise ValueError(f"probe logs in {directory} start more than one tick apart ({min(starts)} to "
                         f"{max(starts)}); replay only logs of the same period together")
    length = min(len(t.values) for t in zones.values())
    names = tuple(sorted(zones))
    capacity = np.array([zones[z].values[:length] for z in names], dtype=np.int32)
    return TraceSet(name or directory.name, names, gap / 3600.0, capacity)
