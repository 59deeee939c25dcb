"""`python -m tests.chaos --seed N --jobs 200 --kills 20`: one chaos run, its fault counts and invariants.

By default the run uses a throwaway PostgreSQL cluster of its own (restarted at random, `--pg-restarts` times
at least) when the server binaries are installed, else SQLite, saying why. `--cloud aws` runs the smaller
AWS-on-moto workload instead (tests/chaos/aws.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.chaos.harness import ChaosConfig, ChaosRun
from tests.chaos.invariants import Check
from tests.chaos.pgcluster import unavailable_reason


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
    p.add_argument("--jobs", type=int, help="default: 200 (local), 24 (aws)")
    p.add_argument("--kills", type=int, help="daemon SIGKILLs, at least; default: 20 (local), 6 (aws)")
    p.add_argument("--error-rate", type=float, help="cloud API faults per call; default 0.05 (local), 0.1 (aws)")
    p.add_argument("--concurrency", type=int, default=8, help="unfinished jobs kept in the queue at once")
    p.add_argument("--database-url", default="", help="run on this (dedicated, test) database; no restarts")
    p.add_argument("--postgres", choices=["auto", "on", "off"], default="auto",
                   help="a throwaway PostgreSQL cluster for the run, restarted at random (auto: when installed)")
    p.add_argument("--pg-restarts", type=int, default=3, help="PostgreSQL restarts, at least (with --postgres)")
    p.add_argument("--cloud", choices=["local", "aws"], default="local",
                   help="aws: the smaller AWS-on-moto workload (default 24 jobs)")
    p.add_argument("--keep", type=Path, help="keep the run's directory here (daemon log, database)")
    args = p.parse_args(argv)
    if args.cloud == "aws":
        from tests.chaos.aws import main as aws_main

        return aws_main(args)
    args.jobs = 200 if args.jobs is None else args.jobs
    args.kills = 20 if args.kills is None else args.kills
    args.error_rate = 0.05 if args.error_rate is None else args.error_rate
    postgres = False
    if not args.database_url and args.postgres != "off":
        reason = unavailable_reason()
        if reason is None:
            postgres = True
        elif args.postgres == "on":
            p.error(f"--postgres on: {reason}")
        else:
            print(f"no PostgreSQL restart fault in this run, SQLite instead: {reason}")
    cfg = ChaosConfig(seed=args.seed, jobs=args.jobs, kills=args.kills, error_rate=args.error_rate,
                      concurrency=args.concurrency, database_url=args.database_url, postgres=postgres,
                      pg_restarts=args.pg_restarts if postgres else 0)
    with tempfile.TemporaryDirectory(prefix="spotwise-chaos-") as tmp:
        workdir = args.keep or Path(tmp)
        checks, faults, seconds = ChaosRun(cfg, workdir).run()
    print(f"database: {'throwaway PostgreSQL' if postgres else args.database_url or 'SQLite'}")
    print(render(args.seed, args.jobs, checks, faults, seconds))
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
