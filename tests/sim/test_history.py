"""`history_hours`: what a replayed policy has seen before its start, so a new daemon's first day can be measured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from orchestrator.sim.runner import draw_starts, run_simulation
from orchestrator.sim.traces import TraceSet, load_trace_set
from tests.sim.conftest import synthetic

POLICIES = ("spotwise", "spotwise-dp")
D, C, TICK = 14.0, 10.0, 0.25


def _base(seed: int) -> TraceSet:
    rng = np.random.default_rng(seed)
    capacity = np.ones((2, 400), dtype=np.int32)
    for zone in range(2):
        t = 0
        while t < 400:  # alternating runs and outages of random length
            up, down = int(rng.integers(1, 12)), int(rng.integers(1, 8))
            capacity[zone, t + up:t + up + down] = 0
            t += up + down
    return synthetic(capacity.tolist(), TICK)


def _with_past(traces: TraceSet, before: int, seed: int) -> TraceSet:
    """The same trace from tick `before` on; before it, a different past (long calm runs, then churn)."""
    rng = np.random.default_rng(seed)
    capacity = traces.capacity.copy()
    capacity[:, :before] = (rng.random((capacity.shape[0], before)) < 0.5).astype(np.int32)
    return TraceSet(traces.name, traces.zones, traces.tick_hours, capacity)


def _means(traces: TraceSet, history: float | None) -> dict[str, float]:
    rows = run_simulation(traces, POLICIES, work_hours=C, deadline_hours=D, changeover_hours=0.25, starts=1,
                          seed=1, modes=("multi",), history_hours=history)
    assert all(r.misses == 0 for r in rows)
    return {r.policy: r.mean for r in rows}


def test_a_policy_without_history_decides_the_same_whatever_the_past() -> None:
    base = _base(0)
    (start,) = draw_starts(base.ticks, D, TICK, 1, 1)
    assert start > 40, "the seed must leave a past to change"
    changed_somewhere = False
    for seed in range(6):
        other = _with_past(base, start, seed)
        assert _means(other, 0.0) == _means(base, 0.0)
        changed_somewhere |= _means(other, None) != _means(base, None)
    assert changed_somewhere, "with the whole past seen, some other past must change a decision (else no test)"


def test_history_hours_bounds_what_the_policy_sees() -> None:
    base = _base(0)
    (start,) = draw_starts(base.ticks, D, TICK, 1, 1)
    window = 8  # ticks = 2 h of history
    older, recent = 0, 0
    for seed in range(6):
        old_only = _with_past(base, start - window, seed)  # changes only what lies beyond the 2 h seen
        assert _means(old_only, window * TICK) == _means(base, window * TICK)
        older += _means(old_only, None) != _means(base, None)
        recent += _means(_with_past(base, start, seed), window * TICK) != _means(base, window * TICK)
    assert older and recent, "the changed pasts must matter when seen (else the test proves nothing)"


def test_bad_history_hours_are_refused() -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="history hours must be zero or more"):
            _means(_base(0), bad)


def test_cli_history_hours(tmp_path: Path) -> None:
    base = _base(0)
    for i, zone in enumerate(base.zones):
        data = ",".join(str(int(v)) for v in base.capacity[i])
        (tmp_path / f"{zone}.json").write_text(f'{{"metadata": {{"gap_seconds": 900}}, "data": [{data}]}}')
    args = [sys.executable, "-m", "orchestrator", "simulate", "--traces", str(tmp_path), "--job-hours", "10",
            "--deadline-hours", "14", "--starts", "5", "--policy", "spotwise", "--mode", "multi"]
    ok = subprocess.run([*args, "--history-hours", "0"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "| spotwise |" in ok.stdout, ok.stderr
    bad = subprocess.run([*args, "--history-hours", "-2"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--history-hours must be zero or more" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
    (tmp_path / "w.json").write_text('[{"hours": 2, "deadline_hours": 4, "submit_hours": 0}]')
    both = subprocess.run([*args, "--history-hours", "0", "--workload", str(tmp_path / "w.json")],
                          capture_output=True, text=True, timeout=120)
    assert both.returncode == 2 and "--history-hours applies to the single-job replays" in both.stderr, both.stderr


def test_a_daemon_without_history_still_beats_uniform_progress(real_traces: Path) -> None:
    """On the real traces with nothing seen before each start, Spotwise keeps every deadline and its lead."""
    traces = load_trace_set(real_traces / "aws-10-26-2022", "*_v100_1.json")
    rows = {r.policy: r for r in run_simulation(traces, ("uniform-progress", "spotwise"), starts=40,
                                                modes=("multi",), history_hours=0.0)}
    assert rows["spotwise"].misses == 0 and rows["uniform-progress"].misses == 0
    assert rows["spotwise"].mean < rows["uniform-progress"].mean - 0.03
