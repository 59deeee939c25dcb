"""Benchmark 1 (BENCHMARKS.md): cost to finish a 48 h job by its deadline, per policy, on real spot traces.

Run: `.venv/bin/python bench/policy_cost.py [--starts 300] [--workers 2] [--plot docs/img/policy_cost.png]
[--part all|in-sample|held-out]`. Prints one Markdown table per trace set
(D in {52, 60, 80} h, d in {0.05, 0.2} h, single-zone mean over zones and multi-zone), then the reference
comparison at D = 52, d = 0.2, then the held-out check: the same protocol at D = 52, d = 0.2 on the raw probe logs
of periods and instance types no constant of the policy was tuned on (2022-11-28 and 2022-12-13 for v100_1; all
three periods for v100_8, k80_8 and k80_1, priced with the same k as v100_1 so that the ratios compare).
Needs ../shared/data/spot-traces (relative to the repository root).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.sim.runner import ALL_POLICIES, ResultRow, format_table, run_simulation  # noqa: E402
from orchestrator.sim.traces import load_trace_set  # noqa: E402

SPOT_TRACES = ROOT.parent / "shared" / "data" / "spot-traces"
TRACES = SPOT_TRACES / "availability" / "1-node"
PROBE_LOGS = SPOT_TRACES / "raw-probe-logs-2022"
SETS = {"aws-02-15-2023": "*.json", "aws-10-26-2022": "*_v100_1.json"}
#: Held out: (period folder of the probe logs, file pattern). The policy's constants were tuned on SETS only;
#: 2022-10-26 v100_1 is SETS' aws-10-26-2022 itself, so it is not listed here.
HELD_OUT = [(period, pattern) for pattern in ("*_v100_1.txt", "*_v100_8.txt", "*_k80_8.txt", "*_k80_1.txt")
            for period in ("2022-10-26T22-05", "2022-11-28T22-23", "2022-12-13T19-23")
            if (period, pattern) != ("2022-10-26T22-05", "*_v100_1.txt")]
DEADLINES = (52.0, 60.0, 80.0)
CHANGEOVERS = (0.05, 0.2)
#: The independently computed reference figures (D = 52, d = 0.2): (set, mode, policy) -> mean cost / on-demand.
REFERENCE = {
    ("aws-02-15-2023", "single", "greedy"): 0.753, ("aws-02-15-2023", "multi", "greedy"): 0.367,
    ("aws-02-15-2023", "single", "uniform-progress"): 0.717, ("aws-02-15-2023", "multi", "uniform-progress"): 0.362,
    ("aws-02-15-2023", "single", "lower-bound"): 0.539, ("aws-02-15-2023", "multi", "lower-bound"): 0.318,
    ("aws-10-26-2022", "single", "greedy"): 0.748, ("aws-10-26-2022", "multi", "greedy"): 0.626,
    ("aws-10-26-2022", "single", "uniform-progress"): 0.664, ("aws-10-26-2022", "multi", "uniform-progress"): 0.530,
    ("aws-10-26-2022", "single", "lower-bound"): 0.436, ("aws-10-26-2022", "multi", "lower-bound"): 0.372,
}
_CACHE: dict = {}


def _one(args: tuple[str, float, float, int]) -> list[ResultRow]:
    name, deadline, changeover, starts = args
    traces = load_trace_set(TRACES / name, SETS[name])
    return run_simulation(traces, ALL_POLICIES, deadline_hours=deadline, changeover_hours=changeover,
                          starts=starts, views_cache=_CACHE)


def _held_out(args: tuple[str, str, int]) -> list[ResultRow]:
    period, pattern, starts = args
    name = f"{period[:10]} {pattern[2:-4]}"
    traces = load_trace_set(PROBE_LOGS / period, pattern, name=name)
    return run_simulation(traces, ALL_POLICIES, starts=starts, views_cache={})


def _print_held_out(rows: list[ResultRow]) -> None:
    """One line per (trace set, mode): every policy's mean, the cheapest causal policy in bold."""
    policies = [p for p in ALL_POLICIES if p != "on-demand"]
    print("\n## held out (D = 52 h, d = 0.2 h): probe-log periods and instance types the policy was not tuned on\n")
    print("| traces | mode | " + " | ".join(policies) + " |\n|---|---|" + "---|" * len(policies))
    wins = total = 0
    for key in dict.fromkeys((r.traces, r.mode) for r in rows):
        by_policy = {r.policy: r.mean for r in rows if (r.traces, r.mode) == key}
        causal = [p for p in policies if p != "lower-bound"]
        best = min(by_policy[p] for p in causal)
        cells = [f"**{by_policy[p]:.3f}**" if p in causal and by_policy[p] == best else f"{by_policy[p]:.3f}"
                 for p in policies]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
        rivals = min(by_policy[p] for p in ("greedy", "uniform-progress"))
        wins += by_policy["spotwise"] <= rivals
        total += 1
    print(f"\nSpotwise at or below both Greedy and Uniform Progress in {wins} of {total} held-out rows")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=300, help="start ticks per configuration (default 300)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    parser.add_argument("--plot", type=Path, help="write a PNG of mean cost vs deadline per policy (d = 0.2 h)")
    parser.add_argument("--part", choices=("all", "in-sample", "held-out"), default="all",
                        help="the tuned-on trace sets, the held-out probe logs, or both (default)")
    opts = parser.parse_args()
    needed = ([TRACES] if opts.part != "held-out" else []) + ([PROBE_LOGS] if opts.part != "in-sample" else [])
    missing = [str(p) for p in needed if not p.is_dir()]
    if missing:
        print(f"traces not found at {', '.join(missing)}; this benchmark needs ../shared/data/spot-traces",
              file=sys.stderr)
        return 2
    began = time.perf_counter()
    tasks = [(n, dl, d, opts.starts) for n in SETS for dl in DEADLINES for d in CHANGEOVERS]
    held_tasks = [(period, pattern, opts.starts) for period, pattern in HELD_OUT]
    with ProcessPoolExecutor(opts.workers) as pool:
        results = list(pool.map(_one, tasks)) if opts.part != "held-out" else []
        held = list(pool.map(_held_out, held_tasks)) if opts.part != "in-sample" else []
    rows = [r for chunk in results for r in chunk]
    held_rows = [r for chunk in held for r in chunk]
    if rows:
        for name in SETS:
            print(f"\n## {name} ({SETS[name]}), C = 48 h, k = 3.06/0.9731, cost / on-demand cost\n")
            print(format_table(sorted((r for r in rows if r.traces == name),
                                      key=lambda r: (r.deadline_hours, r.changeover_hours, r.mode))))
        print("\n## reference figures (D = 52 h, d = 0.2 h)\n")
        print("| traces | mode | policy | measured | reference | gap |\n|---|---|---|---|---|---|")
        for r in rows:
            ref = REFERENCE.get((r.traces, r.mode, r.policy))
            if ref is not None and r.deadline_hours == 52.0 and r.changeover_hours == 0.2:
                print(f"| {r.traces} | {r.mode} | {r.policy} | {r.mean:.3f} | {ref:.3f} | {r.mean - ref:+.3f} |")
    if held_rows:
        _print_held_out(held_rows)
    if opts.plot and rows:
        from orchestrator.sim.plot import plot_cost_vs_deadline

        plot_cost_vs_deadline([r for r in rows if r.changeover_hours == 0.2], opts.plot,
                              f"C = 48 h, d = 0.2 h, {opts.starts} starts per point")
        print(f"\nplot written to {opts.plot}")
    misses = sum(r.misses for r in rows + held_rows)
    print(f"\ndeadline misses, all policies and configurations: {misses}")
    print(f"{opts.starts} starts, {time.perf_counter() - began:.0f} s wall, {opts.workers} workers, "
          f"{platform.machine()} {os.cpu_count()} CPUs")
    return 0 if misses == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
