"""`spotwise simulate` through the real CLI on small synthetic traces."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest


def _traces(folder: Path) -> Path:
    rng = random.Random(3)
    for zone in ("zone-a", "zone-b"):
        data, up = [], True
        for _ in range(400):
            up = up if rng.random() < 0.9 else not up
            data.append(1 if up else 0)
        (folder / f"{zone}.json").write_text(json.dumps({"metadata": {"gap_seconds": 1800}, "data": data}))
    return folder


def test_simulate_prints_every_policy_without_misses(tmp_path: Path) -> None:
    folder = _traces(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "simulate", "--traces", str(folder), "--job-hours", "10",
         "--deadline-hours", "14", "--starts", "20", "--output", "json"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    policies = {r["policy"] for r in rows}
    assert {"on-demand", "greedy", "uniform-progress", "spotwise", "lower-bound"} <= policies
    assert all(r["misses"] == 0 for r in rows)
    bound = {r["mode"]: r["mean"] for r in rows if r["policy"] == "lower-bound"}
    assert all(r["mean"] >= bound[r["mode"]] - 1e-9 for r in rows)


def test_simulate_explains_a_bad_folder(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "orchestrator", "simulate", "--traces", str(tmp_path / "no")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no trace files" in result.stderr and "Traceback" not in result.stderr


def test_simulate_plots_cost_vs_deadline(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (the plot extra)")
    folder, png = _traces(tmp_path), tmp_path / "cost.png"
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "simulate", "--traces", str(folder), "--job-hours", "10",
         "--deadline-hours", "14", "--starts", "5", "--plot", str(png), "--plot-deadlines", "14,20"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


BAD_NUMBERS = [
    (["--job-hours", "-5"], "--job-hours must be a positive number"),
    (["--job-hours", "nan"], "--job-hours must be a positive number"),
    (["--starts", "0"], "--starts must be at least 1"),
    (["--starts", "-3"], "--starts must be at least 1"),
    (["--changeover-hours", "-1"], "--changeover-hours must be zero or more"),
    (["--changeover-hours", "inf"], "--changeover-hours must be zero or more"),
    (["--deadline-hours", "8"], "--deadline-hours (8) must be at least the --job-hours (10)"),
    (["--mode", "bogus"], "unknown --mode 'bogus'; use single, multi or both"),
    (["--output", "xml"], "unknown --output 'xml'"),
]


def test_simulate_refuses_bad_numbers_as_usage_errors(tmp_path: Path) -> None:
    folder = _traces(tmp_path)
    for extra, expected in BAD_NUMBERS:
        args = ["--traces", str(folder), "--job-hours", "10", "--deadline-hours", "14", "--starts", "5", *extra]
        result = subprocess.run([sys.executable, "-m", "orchestrator", "simulate", *args],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, (extra, result.stderr)
        assert expected in " ".join(result.stderr.split()), (extra, result.stderr)
        assert "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr


def test_simulate_says_traces_must_be_a_folder(tmp_path: Path) -> None:
    file = _traces(tmp_path) / "zone-a.json"
    result = subprocess.run([sys.executable, "-m", "orchestrator", "simulate", "--traces", str(file)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--traces must be a folder" in result.stderr, result.stderr


def test_run_simulation_refuses_bad_arguments_with_value_error(tmp_path: Path) -> None:
    """The runner checks too, so every caller (CLI, API, bench) gets a ValueError naming the argument."""
    from orchestrator.sim.runner import run_simulation
    from orchestrator.sim.traces import load_trace_set

    traces = load_trace_set(_traces(tmp_path))
    for kwargs, expected in [({"work_hours": -5.0}, "job hours"), ({"work_hours": float("nan")}, "job hours"),
                             ({"starts": 0}, "starts"), ({"changeover_hours": -1.0}, "changeover hours"),
                             ({"deadline_hours": 5.0, "work_hours": 6.0}, "deadline hours"),
                             ({"modes": ("both",)}, "unknown mode")]:
        with pytest.raises(ValueError, match=expected):
            run_simulation(traces, ("greedy",), **{"work_hours": 6.0, "deadline_hours": 8.0, **kwargs})
