"""Loading traces: the JSON availability files and the raw probe logs must give the same grid, and bad files a
clear error naming the file (the CLI prints it as one line)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from orchestrator.sim.traces import load_trace_set

START = datetime(2022, 11, 28, 22, 23, 37, tzinfo=UTC)


def _log(path: Path, preempted: list[int], step_seconds: list[int] | None = None,
         start: datetime = START) -> Path:
    steps = step_seconds or [600 if i % 9 else 601 for i in range(len(preempted))]
    lines, at = [], start
    for i, value in enumerate(preempted):
        lines.append(f"{i},{at.isoformat().replace('+00:00', '.000Z')},{value}")
        at += timedelta(seconds=steps[i])
    path.write_text("\n".join(lines) + "\n")
    return path


def test_probe_logs_load_as_availability_on_a_ten_minute_grid(tmp_path: Path) -> None:
    _log(tmp_path / "us-west-2b_v100_1.txt", [1, 0, 0, 1, 0])
    _log(tmp_path / "us-west-2a_v100_1.txt", [0, 0, 1, 1, 1, 0])
    header = tmp_path / "us-west-2b_v100_1.txt"
    header.write_text("index,timestamp,preempted\n" + header.read_text())
    traces = load_trace_set(tmp_path, "*_v100_1.txt")
    assert traces.zones == ("us-west-2a", "us-west-2b")
    assert traces.tick_hours == pytest.approx(600 / 3600)
    # availability = 1 - preempted, cut to the shorter log
    assert traces.capacity.tolist() == [[1, 1, 0, 0, 0], [0, 1, 1, 0, 1]]


def test_probe_logs_of_the_json_period_give_the_json_traces(real_traces: Path, probe_logs: Path) -> None:
    """SOURCE.md: the aws-10-26-2022 JSON files are exactly 1 - preempted of these logs."""
    from_json = load_trace_set(real_traces / "aws-10-26-2022", "*_v100_1.json")
    from_logs = load_trace_set(probe_logs / "2022-10-26T22-05", "*_v100_1.txt")
    assert from_logs.zones == from_json.zones and from_logs.tick_hours == from_json.tick_hours
    assert np.array_equal(from_logs.capacity, from_json.capacity)


@pytest.mark.parametrize(("content", "expected"), [
    ("0,2022-11-28T22:23:37.000Z,1\n1,not-a-time,0\n", ":2: not a probe log line"),
    ("0,2022-11-28T22:23:37.000Z,2\n", ":1: not a probe log line"),
    ("0,2022-11-28T22:23:37.000Z\n", ":1: not a probe log line"),
    ("0,2022-11-28T22:23:37.000Z,1\n", "at least two probes"),
])
def test_bad_probe_log_lines_name_the_file_and_line(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "z_v100_1.txt").write_text(content)
    with pytest.raises(ValueError, match=expected):
        load_trace_set(tmp_path, "*.txt")


def test_missing_probes_are_refused_not_compressed(tmp_path: Path) -> None:
    _log(tmp_path / "z_v100_1.txt", [0] * 6, step_seconds=[600, 600, 1800, 600, 600, 600])
    with pytest.raises(ValueError, match="not evenly spaced"):
        load_trace_set(tmp_path, "*.txt")


def test_logs_of_different_periods_are_not_replayed_together(tmp_path: Path) -> None:
    _log(tmp_path / "a_v100_1.txt", [0] * 4)
    _log(tmp_path / "b_v100_1.txt", [0] * 4, start=START + timedelta(days=15))
    with pytest.raises(ValueError, match="start more than one tick apart"):
        load_trace_set(tmp_path, "*.txt")


def test_a_json_file_without_metadata_is_named(tmp_path: Path) -> None:
    (tmp_path / "z.json").write_text(json.dumps({"data": [1, 0]}))
    with pytest.raises(ValueError, match=r"z\.json: not an availability trace"):
        load_trace_set(tmp_path)


def test_simulate_replays_probe_logs_and_reports_a_bad_one_in_one_line(tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    pattern = [0] * 30 + [1] * 10 + [0] * 40 + [1] * 5 + [0] * 35
    _log(good / "zone-a_v100_1.txt", pattern)
    _log(good / "zone-b_v100_1.txt", pattern[60:] + pattern[:60])
    run = [sys.executable, "-m", "orchestrator", "simulate", "--pattern", "*.txt", "--job-hours", "6",
           "--deadline-hours", "9", "--starts", "10", "--output", "json"]
    result = subprocess.run([*run, "--traces", str(good)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["traces"] for r in rows} == {"good"} and all(r["misses"] == 0 for r in rows)
    (bad / "zone-a_v100_1.txt").write_text("0,yesterday,1\n")
    result = subprocess.run([*run, "--traces", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "not a probe log line" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
