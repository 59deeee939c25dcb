"""The simulator with a checkpoint in a store region: every move fetches it (transfer time paid, no progress) and
pays the egress of its path; `spotwise simulate --checkpoint-gb --store-region` replays multi-region traces so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app as cli_app
from orchestrator.sim.engine import SimJob, replay
from orchestrator.sim.gravity import DataGravity, zone_region
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE as K
from orchestrator.sim.runner import run_simulation
from orchestrator.sim.traces import TraceSet
from policies.deadline import POLICIES


def two_regions(capacity: list[list[int]]) -> TraceSet:
    return TraceSet("two-regions", ("us-east-1a", "us-west-2a"), 0.25, np.array(capacity, dtype=np.int32))


def test_zone_regions() -> None:
    assert zone_region("us-east-1a") == "us-east-1" and zone_region("us-central1-a") == "us-central1"


def test_a_move_away_from_the_data_pays_its_transfer_time_and_egress() -> None:
    """Greedy takes us-west-2a (us-east-1a has no spot): 360 GB at the default cross-region 100 MB/s is 1 h of
    paid time without progress, and 360 GB x $0.02 of egress; the policy's changeover counts the longest fetch."""
    traces = two_regions([[0] * 80, [1] * 80])
    gravity = DataGravity(360.0, "aws", "us-east-1")
    job = SimJob(4.0, 12.0, 0.2, gravity.extra_hours(traces.zones))
    assert job.policy_changeover == pytest.approx(1.2)
    r = replay(traces.zone_stats(), 0, job, POLICIES["greedy"], 0.25, K)
    assert r.moves == ("us-west-2a",) and not r.missed
    assert r.cost == pytest.approx(4.0 + 0.2 + 1.0)  # spot price 1 per hour: work + changeover + transfer
    assert gravity.egress_usd(r.moves) == pytest.approx(360 * 0.02)
    assert gravity.transfer_hours(r.moves) == pytest.approx(1.0)
    plain = replay(traces.zone_stats(), 0, SimJob(4.0, 12.0, 0.2), POLICIES["greedy"], 0.25, K)
    assert plain.cost == pytest.approx(4.2)


def test_beside_the_data_the_move_is_free_and_quick() -> None:
    traces = two_regions([[1] * 80, [0] * 80])
    gravity = DataGravity(360.0, "aws", "us-east-1")
    r = replay(traces.zone_stats(), 0, SimJob(4.0, 12.0, 0.2, gravity.extra_hours(traces.zones)),
               POLICIES["greedy"], 0.25, K)
    assert r.moves == ("us-east-1a",) and gravity.egress_usd(r.moves) == 0.0
    assert r.cost == pytest.approx(4.0 + 0.2 + 360 / 250 / 3.6)  # same region: 250 MB/s


def test_run_simulation_reports_transfer_hours_and_egress_and_none_without_a_store() -> None:
    traces = two_regions([[1, 1, 0, 0] * 100, [0, 1, 1, 1] * 100])
    kw = dict(work_hours=4.0, deadline_hours=8.0, changeover_hours=0.1, starts=20, modes=("multi",))
    with_data = run_simulation(traces, ("greedy",), gravity=DataGravity(100.0, "aws", "us-east-1"), **kw)[0]
    without = run_simulation(traces, ("greedy",), **kw)[0]
    assert with_data.transfer_hours > 0 and with_data.egress_usd > 0 and with_data.misses == 0
    assert (without.transfer_hours, without.egress_usd) == (0.0, 0.0)
    zero = run_simulation(traces, ("greedy",), gravity=DataGravity(0.0, "aws", "us-east-1"), **kw)[0]
    assert zero.mean == pytest.approx(without.mean) and zero.egress_usd == 0.0


def test_cli_replays_the_multi_region_traces_with_a_checkpoint(real_traces: Path) -> None:
    folder = real_traces / "aws-02-15-2023"
    out = CliRunner().invoke(cli_app, ["simulate", "--traces", str(folder), "--pattern", "*_v100_1.json",
                                       "--starts", "10", "--policy", "greedy", "--mode", "multi",
                                       "--checkpoint-gb", "100", "--store-region", "aws:us-east-1"])
    assert out.exit_code == 0, out.output
    assert "| transfer h | egress $ |" in out.output and "| greedy |" in out.output
    bad = CliRunner().invoke(cli_app, ["simulate", "--traces", str(folder), "--checkpoint-gb", "100"])
    assert bad.exit_code != 0 and "go together" in str(bad.exception or bad.output)
    bad = CliRunner().invoke(cli_app, ["simulate", "--traces", str(folder), "--checkpoint-gb", "-1",
                                       "--store-region", "aws:us-east-1"])
    assert bad.exit_code != 0 and "zero or more" in str(bad.exception or bad.output)
