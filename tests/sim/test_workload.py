"""Multi-job mode: a workload file replayed over a trace set, through the library and `spotwise simulate
--workload`. Totals are checked against what must hold whatever the traces: on-demand only costs exactly its
closed form, the d = 0 bound is below every policy, GPUs scale the bill, and no policy misses a deadline."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE
from orchestrator.sim.workload import WorkloadError, load_workload, run_workload
from tests.sim.conftest import synthetic

K = DEFAULT_ON_DEMAND_PRICE


def _capacity(seed: int, ticks: int = 600) -> list[list[int]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(2):
        row, up = [], True
        for _ in range(ticks):
            up = up if rng.random() < 0.93 else not up
            row.append(int(up))
        rows.append(row)
    return rows


def _write(path: Path, jobs: list[dict]) -> Path:
    path.write_text(json.dumps({"jobs": jobs}))
    return path


JOBS = [{"name": "a", "hours": 10, "deadline_hours": 14},
        {"name": "b", "hours": 20, "deadline_hours": 30, "submit_hours": 12.5, "gpus": 4},
        {"name": "c", "hours": 5, "deadline_hours": 5.5, "submit_hours": 60}]


def test_totals_hold_their_invariants(tmp_path: Path) -> None:
    traces = synthetic(_capacity(1))
    jobs = load_workload(_write(tmp_path / "w.json", JOBS))
    results = {p: run_workload(traces, jobs, p) for p in
               ("on-demand", "greedy", "uniform-progress", "spotwise", "lower-bound")}
    od_closed_form = K * ((10 + 0.2) + 4 * (20 + 0.2) + (5 + 0.2))
    assert results["on-demand"].cost == pytest.approx(od_closed_form)
    assert all(r.on_demand_cost == pytest.approx(od_closed_form) for r in results.values())
    for policy, r in results.items():
        assert r.missed == () and r.jobs == 3, policy
        assert r.cost >= results["lower-bound"].cost - 1e-9, policy
    assert results["spotwise"].ratio < 1.0  # the traces are up most of the time: spot must have been used


def test_gpus_scale_a_jobs_cost_and_nothing_else(tmp_path: Path) -> None:
    traces = synthetic(_capacity(2))
    one = run_workload(traces, load_workload(_write(tmp_path / "1.json", [{**JOBS[1], "gpus": 1}])))
    four = run_workload(traces, load_workload(_write(tmp_path / "4.json", [JOBS[1]])))
    assert four.cost == pytest.approx(4 * one.cost)
    assert (four.preemptions, four.changeovers) == (one.preemptions, one.changeovers)


@pytest.mark.parametrize(("jobs", "expected"), [
    ([{"hours": 10}], "job 0 (job-0): missing deadline_hours"),
    ([{"hours": 10, "deadline_hours": 8}], "deadline_hours (8) must be at least hours (10)"),
    ([{"hours": -1, "deadline_hours": 8}], "hours must be positive"),
    ([{"hours": "ten", "deadline_hours": 8}], "hours must be a finite number, not 'ten'"),
    ([{"hours": 1, "deadline_hours": 2, "gpus": 0.5}], "gpus must be a whole number of at least 1"),
    ([{"hours": 1, "deadline_hours": 2, "submit_hours": -3}], "submit_hours must be zero or more"),
    ([{"hours": 1, "deadline_hours": 2, "deadlin": 3}], "unknown keys ['deadlin']"),
    ([{"name": "x", "hours": 1, "deadline_hours": 2}] * 2, "job name 'x' is used twice"),
    ([], "at least one job"),
    (["not a job"], "job 0 must be an object"),
])
def test_bad_workloads_name_the_job_and_the_key(tmp_path: Path, jobs: list, expected: str) -> None:
    with pytest.raises(WorkloadError) as caught:
        load_workload(_write(tmp_path / "w.json", jobs))
    assert expected in str(caught.value)


def test_every_bad_job_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError) as caught:
        load_workload(_write(tmp_path / "w.json", [{"hours": 1}, {"hours": 2, "deadline_hours": 1}]))
    assert "job 0" in str(caught.value) and "job 1" in str(caught.value)


def test_jobs_past_the_end_of_the_traces_are_refused_before_any_replay(tmp_path: Path) -> None:
    traces = synthetic(_capacity(3, ticks=100))  # 25 h
    jobs = load_workload(_write(tmp_path / "w.json", [JOBS[0], {**JOBS[1], "submit_hours": 20}]))
    with pytest.raises(WorkloadError, match=r"cover 25 h; these jobs run past their end: b \(submitted at 20 h"):
        run_workload(traces, jobs)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", "simulate", *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_workload_prints_totals_per_policy(tmp_path: Path) -> None:
    folder = tmp_path / "traces"
    folder.mkdir()
    for zone, row in zip(("zone-a", "zone-b"), _capacity(4), strict=True):
        (folder / f"{zone}.json").write_text(json.dumps({"metadata": {"gap_seconds": 900}, "data": row}))
    workload = _write(tmp_path / "w.json", JOBS)
    result = _cli("--traces", str(folder), "--workload", str(workload), "-o", "json")
    assert result.returncode == 0, result.stderr
    rows = {r["policy"]: r for r in json.loads(result.stdout)}
    assert {"on-demand", "greedy", "uniform-progress", "spotwise", "lower-bound"} <= set(rows)
    assert rows["on-demand"]["ratio"] == pytest.approx(1.0)
    assert all(r["missed"] == [] and r["jobs"] == 3 for r in rows.values())
    table = _cli("--traces", str(folder), "--workload", str(workload), "--policy", "spotwise,greedy")
    assert table.returncode == 0 and "| spotwise | 3 |" in table.stdout, table.stderr

    (tmp_path / "bad.json").write_text('{"jobs": [{"hours": 1}]}')
    for args, code, expected in [
        (["--workload", str(tmp_path / "bad.json")], 1, "missing deadline_hours"),
        (["--workload", str(tmp_path / "absent.json")], 1, "cannot read workload"),
        (["--workload", str(workload), "--policy", "cheapest"], 2, "unknown --policy cheapest"),
        (["--workload", str(workload), "--plot", str(tmp_path / "p.png")], 2, "does not combine with --workload"),
        (["--workload", str(workload), "--changeover-hours", "-1"], 2, "--changeover-hours must be zero or more"),
    ]:
        result = _cli("--traces", str(folder), *args)
        assert result.returncode == code, (args, result.stderr)
        assert expected in " ".join(result.stderr.split()), (args, result.stderr)
        assert "Traceback" not in result.stderr
