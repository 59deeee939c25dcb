"""How much the deadline policies owe to history: the reference settings replayed with less of the past seen.

Run: `.venv/bin/python bench/policy_history.py [--starts 300] [--workers 2]`. Prints, per trace set (multi-zone,
D = 52 h, d = 0.2 h, the benchmark's starts), each causal policy's mean cost / on-demand cost when it has seen the
whole trace before each start (as in policy_cost.py), only the last 24 h, or nothing (0 h: a daemon started with
the job, whose zone statistics and run model begin at the prior). Greedy and Uniform Progress read no history,
so their columns agree; the gap in Spotwise's row is what its availability statistics are worth.
Needs ../shared/data/spot-traces (relative to the repository root).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.sim.runner import run_simulation  # noqa: E402
from orchestrator.sim.traces import load_trace_set  # noqa: E402

TRACES = ROOT.parent / "shared" / "data" / "spot-traces" / "availability" / "1-node"
SETS = {"aws-10-26-2022": "*_v100_1.json", "aws-02-15-2023": "*.json"}
POLICIES = ("greedy", "uniform-progress", "spotwise", "spotwise-dp")
HISTORIES: tuple[float | None, ...] = (None, 24.0, 0.0)


def _one(args: tuple[str, float | None, int]) -> dict[str, float]:
    name, history, starts = args
    traces = load_trace_set(TRACES / name, SETS[name])
    rows = run_simulation(traces, POLICIES, deadline_hours=52.0, changeover_hours=0.2, starts=starts,
                          modes=("multi",), history_hours=history)
    if any(r.misses for r in rows):
        raise SystemExit(f"deadline misses on {name} with history {history}: {[r.policy for r in rows if r.misses]}")
    return {r.policy: r.mean for r in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=300, help="start ticks per trace set (default 300)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    opts = parser.parse_args()
    if not TRACES.is_dir():
        print(f"traces not found at {TRACES}; this benchmark needs ../shared/data/spot-traces", file=sys.stderr)
        return 2
    began = time.perf_counter()
    tasks = [(name, h, opts.starts) for name in SETS for h in HISTORIES]
    with ProcessPoolExecutor(opts.workers) as pool:
        results = dict(zip(tasks, pool.map(_one, tasks), strict=True))
    print(f"C = 48 h, D = 52 h, d = 0.2 h, multi-zone, {opts.starts} starts, cost / on-demand, 0 misses\n")
    print("| trace set | policy | whole past | last 24 h | none (0 h) |\n|---|---|---|---|---|")
    for name in SETS:
        for policy in POLICIES:
            cells = " | ".join(f"{results[(name, h, opts.starts)][policy]:.3f}" for h in HISTORIES)
            print(f"| {name} | {policy} | {cells} |")
    print(f"\n{time.perf_counter() - began:.0f} s wall, {opts.workers} workers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
