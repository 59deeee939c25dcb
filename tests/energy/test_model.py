"""The pure energy and carbon model: integration of power samples, the estimate, the facts tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.energy import (
    MAX_GAP_SECONDS,
    carbon_facts,
    estimated_gpu_watts,
    gpu_watts,
    host_watts,
    integrate_wh,
    kg_co2e,
    offer_kg_per_hour,
    power_facts,
)

SHARED_GCP = Path(__file__).resolve().parents[3] / "shared" / "data" / "carbon" / "gcp-region-carbon-2024.csv"

gaps = st.lists(st.floats(min_value=0.001, max_value=MAX_GAP_SECONDS), min_size=1, max_size=40)  # heartbeats advance
watts = st.floats(min_value=0.0, max_value=10_000.0)


def _series(dts: list[float], powers: list[float]) -> list[tuple[float, float]]:
    t, out = 1000.0, [(1000.0, powers[0])]
    for dt, p in zip(dts, powers[1:], strict=False):
        t += dt
        out.append((t, p))
    return out


@settings(max_examples=60, deadline=None)
@given(dts=gaps, p=watts)
def test_constant_power_integrates_to_power_times_time(dts: list[float], p: float) -> None:
    series = _series(dts, [p] * (len(dts) + 1))
    assert integrate_wh(series) == pytest.approx(p * sum(dts) / 3600.0, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dts=gaps)
def test_energy_is_bounded_by_min_and_max_power_and_ignores_sample_order(data: st.DataObject,
                                                                          dts: list[float]) -> None:
    powers = data.draw(st.lists(watts, min_size=len(dts) + 1, max_size=len(dts) + 1))
    series = _series(dts, powers)
    hours = sum(dts) / 3600.0
    energy = integrate_wh(series)
    assert min(powers) * hours - 1e-9 <= energy <= max(powers) * hours + 1e-9
    shuffled = data.draw(st.permutations(series))
    assert integrate_wh(shuffled) == pytest.approx(energy, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dts=st.lists(st.floats(min_value=0.001, max_value=MAX_GAP_SECONDS), min_size=2, max_size=30))
def test_integration_is_additive_at_any_sample(data: st.DataObject, dts: list[float]) -> None:
    powers = data.draw(st.lists(watts, min_size=len(dts) + 1, max_size=len(dts) + 1))
    series = _series(dts, powers)
    cut = data.draw(st.integers(min_value=0, max_value=len(series) - 1))
    whole = integrate_wh(series)
    assert integrate_wh(series[:cut + 1]) + integrate_wh(series[cut:]) == pytest.approx(whole, rel=1e-9, abs=1e-9)


def test_a_silent_gap_counts_at_most_max_gap() -> None:
    # 700 W then silence for an hour: only MAX_GAP_SECONDS (300 s) of it count -> 700 * 300 / 3600 Wh
    assert integrate_wh([(0.0, 700.0), (3600.0, 700.0)]) == pytest.approx(700.0 * MAX_GAP_SECONDS / 3600.0)


def test_estimate_is_idle_floor_to_board_power_linear_in_utilisation() -> None:
    facts = power_facts()
    assert gpu_watts(700.0, 0.0, facts.idle_fraction) == pytest.approx(84.0)  # 12% of 700 W; H200 measured 81 W
    assert gpu_watts(700.0, 100.0, facts.idle_fraction) == pytest.approx(700.0)
    assert gpu_watts(70.0, 50.0, 0.12) == pytest.approx(70.0 * (0.12 + 0.88 * 0.5))
    assert gpu_watts(70.0, 250.0, 0.12) == gpu_watts(70.0, 100.0, 0.12)  # clamped
    # T4:1 at 50% and 8 x A100 at full load (aliases resolve: A100-SXM4-40GB is A100)
    assert estimated_gpu_watts("T4", 1, 50.0) == pytest.approx(70.0 * 0.56)
    assert estimated_gpu_watts("A100-SXM4-40GB", 8, 100.0) == pytest.approx(3200.0)
    assert estimated_gpu_watts("T4", 2, None) == pytest.approx(140.0)  # no utilisation figure: full load
    assert estimated_gpu_watts("", 0, 100.0) == 0.0
    assert estimated_gpu_watts("MYSTERY-GPU", 1, 100.0) == facts.default_board_watts
    assert host_watts(4, 16) == pytest.approx(4 * 2.12 + 16 * 0.392)


@pytest.mark.parametrize(("cloud", "region", "g_per_kwh", "pue"), [
    ("gcp", "us-central1", 412.72, 1.1),
    ("gcp", "europe-north2", 2.73, 1.1),
    ("gcp", "asia-south1", 678.76, 1.1),
    ("aws", "us-east-1", 415.755, 1.135),
    ("aws", "eu-north-1", 8.8, 1.135),
    ("aws", "ap-southeast-2", 760.0, 1.135),
    ("azure", "westeurope", 390.0, 1.185),
    ("azure", "westus2", 350.861, 1.185),
    ("local", "local-east", 415.755, 1.135),
])
def test_known_regions(cloud: str, region: str, g_per_kwh: float, pue: float) -> None:
    intensity = carbon_facts().intensity(cloud, region)
    assert intensity.known and intensity.g_per_kwh == pytest.approx(g_per_kwh) and intensity.pue == pue
    assert intensity.source and intensity.year >= 2021
    assert kg_co2e(1.0, intensity) == pytest.approx(pue * g_per_kwh / 1000.0)


def test_worked_example_and_unknown_region() -> None:
    # 8 x A100 at full load + 96 vCPUs + 1152 GB: 3200 + 203.52 + 451.584 W = 3.855104 kW
    kg = offer_kg_per_hour("gcp", "us-central1", "A100", 8, 96, 1152)
    assert kg == pytest.approx(3.855104 * 1.1 * 0.41272)
    unknown = carbon_facts().intensity("aws", "mars-north-1")
    assert not unknown.known and unknown.g_per_kwh == 475.0


@pytest.mark.skipif(not SHARED_GCP.exists(), reason=f"Google's published table is not at {SHARED_GCP}")
def test_gcp_figures_match_googles_published_table() -> None:
    with SHARED_GCP.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    facts = carbon_facts()
    for region, _location, _cfe, intensity in rows:
        assert facts.intensity("gcp", region).g_per_kwh == pytest.approx(float(intensity)), region
