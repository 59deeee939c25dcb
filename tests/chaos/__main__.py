"""`python -m tests.chaos --seed N --jobs 200 --kills 20`: one chaos run, its fault counts and invariants."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.chaos.harness import ChaosConfig, ChaosRun
from tests.chaos.invariants import Check


def render(seed: int, jobs: int, checks: list[Check], faults: dict[str, int], seconds: float) -> str:
    lines = [f"chaos run: seed {seed}, {jobs} jobs, {seconds:.0f} s", "", "| fault | count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(faults.items())]
    lines += ["", "| invariant | result | detail |", "|---|---|---|"]
    lines += [f"| {c.name} | {'PASS' if c.ok else 'FAIL'} | {c.detail} |" for c in checks]
    violations = sum(not c.ok for c in checks)
    lines += ["", f"{violations} invariant violation(s)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=200)
    p.add_argument("--kills", type=int, default=20, help="daemon SIGKILLs, at least")
    p.add_argument("--error-rate", type=float, default=0.05, help="injected cloud API faults per call")
    p.add_argument("--concurrency", type=int, default=8, help="unfinished jobs kept in the queue at once")
    p.add_argument("--database-url", default="", help="run on this (dedicated, test) database instead of SQLite")
    p.add_argument("--keep", type=Path, help="keep the run's directory here (daemon log, database)")
    args = p.parse_args(argv)
    cfg = ChaosConfig(seed=args.seed, jobs=args.jobs, kills=args.kills, error_rate=args.error_rate,
                      concurrency=args.concurrency, database_url=args.database_url)
    with tempfile.TemporaryDirectory(prefix="spotwise-chaos-") as tmp:
        workdir = args.keep or Path(tmp)
        checks, faults, seconds = ChaosRun(cfg, workdir).run()
    print(render(args.seed, args.jobs, checks, faults, seconds))
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
