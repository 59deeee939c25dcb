"""Catalog prices in the simulator: each zone's spot price and the on-demand price flow from a vms.csv into the
replay's bill, the lower bound and the CLI; zones the catalog cannot price are refused or flagged, never guessed
silently."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from orchestrator.sim.prices import catalog_prices
from orchestrator.sim.runner import run_simulation
from tests.sim.conftest import synthetic

HEADER = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region," \
         "AvailabilityZone,Arch\n"
GPU_INFO = "\"{'Gpus': [{'Name': 'V100', 'Count': 1, 'MemoryInfo': {'SizeInMiB': 16384}}]}\""


def _row(zone: str, od: float, spot: float, region: str = "us-west-2", itype: str = "p3.2xlarge") -> str:
    return f"{itype},V100,1.0,8.0,61.0,{GPU_INFO},{od},{spot},{region},{zone},x86_64\n"


CATALOG = HEADER + _row("zone-a", 3.06, 0.9) + _row("zone-b", 3.06, 1.5) + _row("zone-x", 2.5, 0.7, "eu-west-1")


def test_each_zone_gets_its_own_spot_price_and_the_cheapest_regional_on_demand() -> None:
    prices = catalog_prices(CATALOG, "aws", "p3.2xlarge", ("zone-a", "zone-b"))
    assert prices.spot == {"zone-a": 0.9, "zone-b": 1.5}
    assert prices.on_demand == 3.06  # eu-west-1's 2.5 is not a region of these zones
    assert prices.notes == ()


def test_zone_ids_fall_back_to_the_regions_mean_with_a_note() -> None:
    catalog = HEADER + _row("usw2-az1", 55.04, 12.0) + _row("usw2-az2", 55.04, 14.0)
    prices = catalog_prices(catalog, "aws", "p3.2xlarge", ("us-west-2a", "us-west-2b"))
    assert prices.spot == {"us-west-2a": 13.0, "us-west-2b": 13.0} and prices.on_demand == 55.04
    assert len(prices.notes) == 2 and "region us-west-2's mean spot price over 2 zone(s)" in prices.notes[0]


@pytest.mark.parametrize(("itype", "zones", "expected"), [
    ("p4d.24xlarge", ("zone-a",), "instance type 'p4d.24xlarge' is not in the aws catalog"),
    ("p3.2xlarge", ("ap-south-1a",), "no spot price for p3.2xlarge in zone(s) ap-south-1a"),
])
def test_what_the_catalog_cannot_price_is_refused(itype: str, zones: tuple[str, ...], expected: str) -> None:
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        catalog_prices(CATALOG, "aws", itype, zones)


def test_prices_flow_into_the_bill_and_the_bound() -> None:
    """Closed forms on an always-available trace: on-demand only = od x (C + d); Greedy takes zone-a (first in
    name order) and pays its price for the work and its one changeover; the bound buys zone-a's ticks."""
    ticks = 200
    traces = synthetic([[1] * ticks, [1] * ticks]).with_prices({"zone-a": 0.9, "zone-b": 1.5}, 3.06)
    rows = {(r.mode, r.policy): r for r in run_simulation(
        traces, ("on-demand", "greedy", "lower-bound"), work_hours=10, deadline_hours=12, starts=5,
        modes=("multi",))}
    reference = 3.06 * (10 + 0.2)
    assert rows["multi", "on-demand"].mean == pytest.approx(1.0)
    assert rows["multi", "greedy"].mean == pytest.approx(0.9 * (10 + 0.2) / reference)
    assert rows["multi", "lower-bound"].mean == pytest.approx(0.9 * 10 / reference)
    single = {r.policy: r.mean for r in run_simulation(
        traces, ("greedy",), work_hours=10, deadline_hours=12, starts=5, modes=("single",))}
    assert single["greedy"] == pytest.approx(np.mean([0.9, 1.5]) * 10.2 / reference)


def test_with_prices_refuses_missing_or_bad_prices() -> None:
    traces = synthetic([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="no spot price for zone"):
        traces.with_prices({"zone-a": 1.0}, 3.0)
    with pytest.raises(ValueError, match="positive and finite"):
        traces.with_prices({"zone-a": 1.0, "zone-b": float("nan")}, 3.0)


def test_cli_prices_from_a_catalog_and_explains_partial_options(tmp_path: Path) -> None:
    folder = tmp_path / "traces"
    folder.mkdir()
    for zone in ("zone-a", "zone-b"):
        data = [1] * 150 + [0] * 20 + [1] * 230
        (folder / f"{zone}.json").write_text(json.dumps({"metadata": {"gap_seconds": 1800}, "data": data}))
    (tmp_path / "vms.csv").write_text(CATALOG)
    run = [sys.executable, "-m", "orchestrator", "simulate", "--traces", str(folder), "--job-hours", "10",
           "--deadline-hours", "14", "--starts", "10", "--mode", "multi", "-o", "json"]
    priced = subprocess.run([*run, "--catalog", str(tmp_path / "vms.csv"), "--cloud", "aws", "--instance-type",
                             "p3.2xlarge"], capture_output=True, text=True, timeout=120)
    plain = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert priced.returncode == 0 and plain.returncode == 0, priced.stderr + plain.stderr
    greedy = [{r["policy"]: r["mean"] for r in json.loads(out.stdout)}["greedy"] for out in (priced, plain)]
    assert greedy[0] != pytest.approx(greedy[1])  # k = 3.4 against 1 vs 3.06 against 0.9
    for extra, expected in [(["--cloud", "aws"], "only price a --catalog"),
                            (["--catalog", str(tmp_path / "vms.csv")], "--catalog needs --cloud"),
                            (["--catalog", str(tmp_path / "nope.csv"), "--cloud", "aws", "--instance-type", "x"],
                             "cannot read --catalog")]:
        result = subprocess.run([*run, *extra], capture_output=True, text=True, timeout=60)
        assert result.returncode in (1, 2) and expected in result.stderr, (extra, result.stderr)
        assert "Traceback" not in result.stderr
