"""How far each deadline policy is from what hindsight could do, on the reference settings (D = 52 h, d = 0.2 h).

Run: `.venv/bin/python bench/policy_headroom.py [--starts 300] [--workers 2]`. Prints, per trace set (multi-zone),
the mean cost / on-demand cost of the d = 0 lower bound, the hindsight plan (orchestrator/sim/hindsight.py: knows
the trace, pays every changeover), Greedy, Uniform Progress and Spotwise, and the share of Uniform Progress's
gap to the hindsight plan that Spotwise closes. The hindsight plan is what separates "the policy decides badly"
from "the future was not knowable": policy_cost.py's lower bound ignores changeovers and so understates the cost
any job must pay on a volatile trace. Needs ../shared/data/spot-traces (relative to the repository root).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.sim.hindsight import hindsight_cost  # noqa: E402
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE, draw_starts, run_simulation  # noqa: E402
from orchestrator.sim.traces import load_trace_set  # noqa: E402

TRACES = ROOT.parent / "shared" / "data" / "spot-traces" / "availability" / "1-node"
SETS = {"aws-10-26-2022": "*_v100_1.json", "aws-02-15-2023": "*.json"}
C, D, CHANGEOVER = 48.0, 52.0, 0.2
POLICIES = ("greedy", "uniform-progress", "spotwise", "lower-bound")


def _hindsight(args: tuple[str, list[int]]) -> list[float]:
    name, starts = args
    traces = load_trace_set(TRACES / name, SETS[name])
    reference = DEFAULT_ON_DEMAND_PRICE * (C + CHANGEOVER)
    return [hindsight_cost(traces.capacity, s, C, D, CHANGEOVER, traces.tick_hours, DEFAULT_ON_DEMAND_PRICE)
            / reference for s in starts]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=300, help="start ticks per trace set (default 300)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    opts = parser.parse_args()
    if not TRACES.is_dir():
        print(f"traces not found at {TRACES}; this benchmark needs ../shared/data/spot-traces", file=sys.stderr)
        return 2
    began = time.perf_counter()
    print(f"C = {C:g} h, D = {D:g} h, d = {CHANGEOVER:g} h, multi-zone, {opts.starts} starts, cost / on-demand\n")
    print("| trace set | lower bound (d=0) | hindsight plan | Greedy | Uniform Progress | Spotwise | "
          "UP gap closed |\n|---|---|---|---|---|---|---|")
    with ProcessPoolExecutor(opts.workers) as pool:
        for name in SETS:
            traces = load_trace_set(TRACES / name, SETS[name])
            starts = draw_starts(traces.ticks, D, traces.tick_hours, opts.starts, 0)
            chunks = [starts[i::opts.workers] for i in range(opts.workers)]
            plan = float(np.mean([v for part in pool.map(_hindsight, [(name, c) for c in chunks]) for v in part]))
            rows = {r.policy: r.mean for r in run_simulation(traces, POLICIES, deadline_hours=D,
                                                              changeover_hours=CHANGEOVER, starts=opts.starts,
                                                              modes=("multi",))}
            up, ours = rows["uniform-progress"], rows["spotwise"]
            closed = (up - ours) / (up - plan) if up > plan else float("nan")
            print(f"| {name} | {rows['lower-bound']:.3f} | {plan:.3f} | {rows['greedy']:.3f} | {up:.3f} | "
                  f"{ours:.3f} | {closed:.0%} |")
    print(f"\n{time.perf_counter() - began:.0f} s wall, {opts.workers} workers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
