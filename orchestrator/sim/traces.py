"""Loading availability traces: one JSON file per zone, `{"metadata": {"gap_seconds": g}, "data": [...]}`.

A value > 0 at index i means spot capacity was available during tick i. Files of a set must share their tick
length and are cut to the shortest, so that every zone has a value at every tick. Zones are kept in sorted name
order: the baselines take "the first available zone", and a fixed order makes every run reproducible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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
        return TraceSet(self.name, tuple(keep), self.tick_hours, self.capacity[rows])

    def zone_stats(self) -> list[tuple[ZoneStats, ...]]:
        """Causal per-zone statistics for every tick: `result[t][z]` uses only ticks <= t of zone z."""
        series = [zone_stats_series(z, (self.capacity[i] > 0).tolist(), self.tick_hours)
                  for i, z in enumerate(self.zones)]
        return list(zip(*series, strict=True))

    def outlooks(self) -> list[Outlook]:
        """The union's causal outlook for every tick: `result[t]` uses only ticks <= t of every zone."""
        return outlook_series([(row > 0).tolist() for row in self.capacity], self.tick_hours)


def zone_name(path: Path) -> str:
    """`us-west-2a_v100_1.json` -> `us-west-2a`: the zone is the file name up to the first underscore."""
    return path.stem.split("_", 1)[0]


def load_trace_set(directory: str | Path, pattern: str = "*.json", name: str | None = None) -> TraceSet:
    """Load every file matching `pattern` in `directory` as one zone each."""
    directory = Path(directory)
    files = sorted(directory.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no trace files matching {pattern!r} in {directory}; point --traces at a "
                                "folder such as ../shared/data/spot-traces/availability/1-node/aws-02-15-2023")
    zones: dict[str, list[int]] = {}
    gaps = set()
    for f in files:
        doc = json.loads(f.read_text())
        gaps.add(int(doc["metadata"]["gap_seconds"]))
        zone = zone_name(f)
        if zone in zones:
            raise ValueError(f"two files for zone {zone} in {directory}; narrow the pattern (e.g. '*_v100_1.json')")
        zones[zone] = doc["data"]
    if len(gaps) != 1:
        raise ValueError(f"trace files in {directory} mix tick lengths {sorted(gaps)}")
    length = min(len(v) for v in zones.values())
    names = tuple(sorted(zones))
    capacity = np.array([zones[z][:length] for z in names], dtype=np.int32)
    return TraceSet(name or directory.name, names, gaps.pop() / 3600.0, capacity)
