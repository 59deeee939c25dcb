"""The replay engine: exact accounting on hand-made traces, legality checks, determinism, one decision function."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.sim.engine import PolicyError, SimJob, replay
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE as K
from orchestrator.sim.runner import format_table, run_simulation
from orchestrator.sim.traces import load_trace_set
from orchestrator.sim.workload import load_workload, run_workload
from policies.deadline import POLICIES, DeadlineState, Decision, Market, decide
from tests.sim.conftest import synthetic


def test_on_demand_only_costs_exactly_the_reference() -> None:
    traces = synthetic([[1] * 40])
    r = replay(traces.zone_stats(), 0, SimJob(5.0, 6.0, 0.2), POLICIES["on-demand"], 0.25, K)
    assert r.cost == pytest.approx(K * 5.2) and r.changeovers == 1 and not r.missed
    assert r.finish_hours == pytest.approx(5.2)


def test_greedy_pays_a_changeover_per_new_instance_and_waits_through_outages() -> None:
    # spot for 2 h, out for 1 h, back: two spot instances, 2 h + 1 h waiting + the rest
    traces = synthetic([[1] * 8 + [0] * 4 + [1] * 30])
    r = replay(traces.zone_stats(), 0, SimJob(4.0, 6.0, 0.2), POLICIES["greedy"], 0.25, K)
    assert (r.changeovers, r.preemptions, r.missed) == (2, 1, False)
    assert r.cost == pytest.approx(4.0 + 2 * 0.2)
    assert r.finish_hours == pytest.approx(4.0 + 0.4 + 1.0)


def test_a_policy_asking_for_missing_capacity_is_an_error() -> None:
    traces = synthetic([[0] * 10])

    def bad(state: DeadlineState) -> Decision:
        return Decision(Market.SPOT, "zone-a", "wrong")

    with pytest.raises(PolicyError, match="no capacity"):
        replay(traces.zone_stats(), 0, SimJob(1.0, 2.0, 0.1), bad, 0.25, K)


def test_the_engine_applies_exactly_what_decide_returns() -> None:
    """The daemon calls `decide(state)`; the simulator must make the same decision for the same state."""
    traces = synthetic([[1, 1, 0, 0, 1, 0, 1, 1] * 6, [0, 1, 1, 1, 0, 0, 0, 1] * 6])
    seen: list[tuple[DeadlineState, Decision]] = []

    def recording(state: DeadlineState) -> Decision:
        decision = POLICIES["spotwise"](state)
        seen.append((state, decision))
        return decision

    replay(traces.zone_stats(), 0, SimJob(6.0, 9.0, 0.2), recording, 0.25, K)
    assert seen and all(decide(s) == d for s, d in seen)


def test_run_simulation_is_deterministic_and_tabulates() -> None:
    pattern = [1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0]
    traces = synthetic([pattern * 20, pattern[::-1] * 20])
    a = run_simulation(traces, starts=12, work_hours=6.0, deadline_hours=8.0, seed=3)
    b = run_simulation(traces, starts=12, work_hours=6.0, deadline_hours=8.0, seed=3)
    assert a == b and all(r.misses == 0 for r in a)
    assert {r.policy for r in a} == set(POLICIES) | {"lower-bound"}
    table = format_table(a)
    assert "spotwise" in table and "lower-bound" in table
    od = next(r for r in a if r.policy == "on-demand")
    assert od.mean == pytest.approx(1.0)


def test_load_trace_set_reads_the_published_format(tmp_path: Path) -> None:
    for zone, data in [("us-x-1b", [1, 0, 1]), ("us-x-1a", [0, 0, 1, 1])]:
        (tmp_path / f"{zone}_v100_1.json").write_text(json.dumps({"metadata": {"gap_seconds": 600}, "data": data}))
    traces = load_trace_set(tmp_path)
    assert traces.zones == ("us-x-1a", "us-x-1b") and traces.ticks == 3 and traces.tick_hours == pytest.approx(1 / 6)
    with pytest.raises(FileNotFoundError, match="--traces"):
        load_trace_set(tmp_path, "*.csv")


def test_workload_mode_totals_jobs(tmp_path: Path) -> None:
    traces = synthetic([[1, 1, 1, 1, 0, 0] * 40, [0, 1, 1, 1, 1, 1] * 40])
    spec = {"jobs": [{"name": "a", "hours": 8, "deadline_hours": 10},
                     {"name": "b", "hours": 4, "deadline_hours": 5, "submit_hours": 12, "gpus": 2}]}
    (tmp_path / "w.json").write_text(json.dumps(spec))
    result = run_workload(traces, load_workload(tmp_path / "w.json"))
    assert result.jobs == 2 and result.missed == () and 0 < result.cost < result.on_demand_cost
    with pytest.raises(ValueError, match="valid keys"):
        (tmp_path / "bad.json").write_text(json.dumps({"jobs": [{"hours": 1, "deadline_hours": 2, "gpu": 1}]}))
        load_workload(tmp_path / "bad.json")
