"""Energy and carbon arithmetic: power models, integration of power samples, grid intensity. Pure.

Why a model at all: NVML reports the GPUs' board power when the instance has NVIDIA GPUs and a
driver; everything else (a GPU without power readings, the local provider's simulated GPUs, the
host's CPUs and memory) has to be estimated. The estimate is linear in utilisation between an
idle floor and the board power, the common first-order model of GPU power; the host share uses
Cloud Carbon Footprint's per-vCPU and per-GB coefficients. Carbon is energy x PUE x the grid
intensity of the region's location (yearly average). The facts live in JSON tables with their sources
and years: `providers/catalog/gpu_power.json`, each cloud's own grid carbon table (declared by its
plugin, gathered by `providers.plugin.grid_carbon()`, which reads files of the installed packages and
nothing on the network) and the world average for any other region (`providers/catalog/grid_carbon.json`).
They are read once; every function here takes them as arguments or uses those defaults, with no other I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from providers import plugin as cloud_plugins
from providers.gpus import canonical_gpu

CATALOG = Path(__file__).resolve().parent.parent / "providers" / "catalog"
MAX_GAP_SECONDS = 300.0  # a longer silence between samples is integrated as this long (see integrate_wh)


@dataclass(frozen=True, slots=True)
class PowerFacts:
    """Board power per GPU model and the host-share coefficients (gpu_power.json)."""

    board_watts: dict[str, float]
    default_board_watts: float
    idle_fraction: float
    host_watts_per_vcpu: float
    host_watts_per_gb: float

    def board(self, gpu_model: str) -> float:
        return self.board_watts.get(canonical_gpu(gpu_model), self.default_board_watts) if gpu_model else 0.0


@dataclass(frozen=True, slots=True)
class Intensity:
    """Grid carbon intensity of one region and the facility overhead (PUE) of its cloud."""

    g_per_kwh: float
    pue: float
    source: str
    year: int
    known: bool = True  # False: the region is not in the table and the world average stands in


@dataclass(frozen=True, slots=True)
class CarbonFacts:
    regions: dict[tuple[str, str], tuple[float, str]]  # (cloud, region) -> (gCO2e/kWh, location)
    clouds: dict[str, tuple[float, str, int]]  # cloud -> (PUE, source, year)
    unknown_g_per_kwh: float

    def intensity(self, cloud: str, region: str) -> Intensity:
        cloud, region = cloud.lower(), region.lower()
        pue, source, year = self.clouds.get(cloud, (1.15, "", 0))
        found = self.regions.get((cloud, region))
        if found is None:
            return Intensity(self.unknown_g_per_kwh, pue, "world average (region not in the table)", year, False)
        return Intensity(found[0], pue, source, year)


@lru_cache(maxsize=1)
def power_facts() -> PowerFacts:
    data: dict[str, Any] = json.loads((CATALOG / "gpu_power.json").read_text(encoding="utf-8"))
    return PowerFacts(
        board_watts={k.upper(): float(v["board_watts"]) for k, v in data["gpus"].items()},
        default_board_watts=float(data["default_board_watts"]), idle_fraction=float(data["idle_fraction"]),
        host_watts_per_vcpu=float(data["host_watts_per_vcpu"]),
        host_watts_per_gb=float(data["host_watts_per_gb_memory"]))


@lru_cache(maxsize=1)
def carbon_facts() -> CarbonFacts:
    data: dict[str, Any] = json.loads((CATALOG / "grid_carbon.json").read_text(encoding="utf-8"))
    regions: dict[tuple[str, str], tuple[float, str]] = {}
    clouds: dict[str, tuple[float, str, int]] = {}
    for cloud, table in cloud_plugins.grid_carbon().items():
        clouds[cloud] = (float(table["pue"]), table["source"], int(table["year"]))
        for region, fact in table["regions"].items():
            regions[(cloud, region.lower())] = (float(fact["g_per_kwh"]), fact.get("location", ""))
    return CarbonFacts(regions, clouds, float(data["unknown_region_g_per_kwh"]))


def gpu_watts(board_watts: float, utilization_percent: float, idle_fraction: float) -> float:
    """Estimated draw of one GPU: the idle floor plus the rest of the board power in proportion to load."""
    util = min(100.0, max(0.0, utilization_percent)) / 100.0
    return board_watts * (idle_fraction + (1.0 - idle_fraction) * util)


def host_watts(vcpus: float, memory_gb: float, facts: PowerFacts | None = None) -> float:
    """The host's share: CPUs at half load plus memory (always an estimate)."""
    f = facts or power_facts()
    return vcpus * f.host_watts_per_vcpu + memory_gb * f.host_watts_per_gb


def estimated_gpu_watts(gpu_model: str, gpu_count: int, utilization_percent: float | None,
                        facts: PowerFacts | None = None) -> float:
    """All GPUs of an instance from the model's board power; unknown utilisation counts as full load.

    Full load is the conservative choice for a training job that reports no utilisation (the
    local provider's simulated GPUs): it never under-reports.
    """
    f = facts or power_facts()
    if gpu_count <= 0 or not gpu_model:
        return 0.0
    util = 100.0 if utilization_percent is None else utilization_percent
    return gpu_count * gpu_watts(f.board(gpu_model), util, f.idle_fraction)


def integrate_wh(samples: Sequence[tuple[float, float]], max_gap: float = MAX_GAP_SECONDS) -> float:
    """Energy in Wh from (time in seconds, power in W) samples by the trapezoid rule.

    Samples are sorted by time first; a gap longer than `max_gap` counts as `max_gap` (a silent
    agent is not evidence of power draw, and one stale reading must not be stretched over hours).
    """
    points = sorted(samples)
    total = 0.0
    for (t0, p0), (t1, p1) in zip(points, points[1:], strict=False):
        dt = min(max(0.0, t1 - t0), max_gap)
        total += dt * (p0 + p1) / 2.0
    return total / 3600.0


def kg_co2e(kwh: float, intensity: Intensity) -> float:
    """kg CO2e of `kwh` drawn by the machine: facility energy (x PUE) times the grid intensity."""
    return kwh * intensity.pue * intensity.g_per_kwh / 1000.0


def offer_kw(gpu_model: str, gpu_count: int, vcpus: float, memory_gb: float,
             facts: PowerFacts | None = None) -> float:
    """Expected draw of an instance running a job at full GPU load, in kW (placement's estimate)."""
    return (estimated_gpu_watts(gpu_model, gpu_count, 100.0, facts) + host_watts(vcpus, memory_gb, facts)) / 1000.0


def offer_kg_per_hour(cloud: str, region: str, gpu_model: str, gpu_count: int, vcpus: float, memory_gb: float,
                      power: PowerFacts | None = None, carbon: CarbonFacts | None = None) -> float:
    """kg CO2e one hour of this instance at full GPU load emits in its region."""
    intensity = (carbon or carbon_facts()).intensity(cloud, region)
    return kg_co2e(offer_kw(gpu_model, gpu_count, vcpus, memory_gb, power), intensity)
