"""`spotwise simulate` through the real CLI on small synthetic traces."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path


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
    import pytest

    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (the plot extra)")
    folder, png = _traces(tmp_path), tmp_path / "cost.png"
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "simulate", "--traces", str(folder), "--job-hours", "10",
         "--deadline-hours", "14", "--starts", "5", "--plot", str(png), "--plot-deadlines", "14,20"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
