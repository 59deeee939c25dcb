"""The baselines reproduce the benchmark's reference figures (full protocol, the parts that run in seconds).

The complete table (both sets, single and multi, D in {52, 60, 80}, d in {0.05, 0.2}) is `bench/policy_cost.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.sim.runner import run_simulation
from orchestrator.sim.traces import load_trace_set

POLICIES = ("greedy", "uniform-progress", "lower-bound", "spotwise")


def test_aws_10_26_2022_v100_1_matches_the_reference(real_traces: Path) -> None:
    traces = load_trace_set(real_traces / "aws-10-26-2022", "*_v100_1.json")
    rows = {(r.mode, r.policy): r for r in run_simulation(traces, POLICIES)}
    reference = {("single", "greedy"): 0.748, ("multi", "greedy"): 0.626, ("single", "uniform-progress"): 0.664,
                 ("multi", "uniform-progress"): 0.530, ("single", "lower-bound"): 0.436,
                 ("multi", "lower-bound"): 0.372}
    for key, want in reference.items():
        assert rows[key].mean == pytest.approx(want, abs=0.02), key
    assert all(r.misses == 0 for r in rows.values())
    assert rows["single", "spotwise"].mean < rows["single", "uniform-progress"].mean - 0.03
    assert rows["multi", "spotwise"].mean < rows["multi", "uniform-progress"].mean - 0.03
    assert rows["multi", "spotwise"].mean <= 0.455  # 0.4544 measured; the benchmark targets 0.45 (README, performance)


def test_aws_02_15_2023_multi_zone_matches_the_reference(real_traces: Path) -> None:
    traces = load_trace_set(real_traces / "aws-02-15-2023")
    rows = {r.policy: r for r in run_simulation(traces, POLICIES, modes=("multi",))}
    for policy, want in {"greedy": 0.367, "uniform-progress": 0.362, "lower-bound": 0.318}.items():
        assert rows[policy].mean == pytest.approx(want, abs=0.02), policy
    assert rows["spotwise"].misses == 0 and rows["spotwise"].mean <= 0.34


@pytest.mark.parametrize("period", ["2022-11-28T22-23", "2022-12-13T19-23"])
def test_spotwise_beats_the_baselines_on_held_out_periods(probe_logs: Path, period: str) -> None:
    """The policy's constants were tuned on the two sets above; these later periods of the same zones were never
    looked at while tuning, so this is the check that Spotwise's lead is not fitted to the traces it knows.
    Measured: 0.391 / 0.483 (2022-11-28 multi / single) and 0.360 / 0.558 (2022-12-13) against the best
    baseline's 0.429 / 0.574 and 0.379 / 0.577."""
    traces = load_trace_set(probe_logs / period, "*_v100_1.txt")
    rows = {(r.mode, r.policy): r for r in run_simulation(traces, POLICIES)}
    assert all(r.misses == 0 for r in rows.values())
    for mode in ("single", "multi"):
        rivals = min(rows[mode, "greedy"].mean, rows[mode, "uniform-progress"].mean)
        assert rows[mode, "spotwise"].mean < rivals - 0.01, mode
        assert rows[mode, "spotwise"].mean >= rows[mode, "lower-bound"].mean
