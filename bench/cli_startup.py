"""How fast the CLI answers: `spotwise --help` and `spotwise jobs list` against a running daemon, next to a bare
`python -c pass` measured in the same run (on a shared machine the ratio moves less than the seconds).

Starts its own daemon (SQLite + the local provider, a temporary home), submits a few short jobs and waits for
them to end (so `jobs list` renders rows and the daemon is idle), then runs each command N times (after one
unmeasured warm-up run) and prints min and median wall seconds. Target: both commands under 0.25 s median.

    .venv/bin/python bench/cli_startup.py            # about 20 seconds
    .venv/bin/python bench/cli_startup.py --runs 20 --jobs 0
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.cli.demo import free_port, start_daemon, stop_daemon, wait_healthy  # noqa: E402
from orchestrator.client import Client  # noqa: E402

TARGET_S = 0.25
SPEC = {"name": "bench-cli", "team": "bench", "run": "true", "resources": {"accelerators": "T4:1"}}
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def spotwise() -> list[str]:
    """The `spotwise` console script next to this interpreter (what a user runs), else `python -m orchestrator`."""
    script = Path(sys.executable).parent / "spotwise"
    return [str(script)] if script.exists() else [sys.executable, "-m", "orchestrator"]


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall seconds of `runs` runs of argv, after one unmeasured warm-up run; a failed run stops the benchmark."""
    seconds = []
    for i in range(runs + 1):
        began = time.perf_counter()
        result = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        took = time.perf_counter() - began
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
        if i:
            seconds.append(took)
    return seconds


def submit_and_settle(api: Client, jobs: int, timeout: float = 180.0) -> int:
    """Submit `jobs` short jobs and wait until every one has ended; returns how many ended."""
    ids = [api.post("/v1/jobs", {**SPEC, "name": f"bench-cli-{i}"})["id"] for i in range(jobs)]
    deadline = time.monotonic() + timeout
    ended = 0
    while ids and time.monotonic() < deadline:
        ended = sum(api.get(f"/v1/jobs/{job_id}")["state"] in FINAL for job_id in ids)
        if ended == len(ids):
            break
        time.sleep(1.0)
    return ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="measured runs per command")
    parser.add_argument("--jobs", type=int, default=5, help="short jobs submitted first, so `jobs list` has rows")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="spotwise-cli-bench-"))
    port = free_port()
    proc = start_daemon(home, port)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        api = Client(f"http://127.0.0.1:{port}", (home / "admin-token").read_text().strip())
        ended = submit_and_settle(api, args.jobs)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTWISE_")}
        env.update({"SPOTWISE_HOME": str(home), "SPOTWISE_PORT": str(port), "COLUMNS": "200"})
        cli = spotwise()
        rows = [("python -c pass", timed([sys.executable, "-c", "pass"], env, args.runs)),
                ("spotwise --help", timed([*cli, "--help"], env, args.runs)),
                ("spotwise jobs list", timed([*cli, "jobs", "list"], env, args.runs))]
    finally:
        stop_daemon(proc)
        shutil.rmtree(home, ignore_errors=True)

    base = statistics.median(rows[0][1])
    load = os.getloadavg()[0]
    print(f"CLI start-up: {args.runs} runs each after a warm-up, {' '.join(cli)}; jobs list shows {ended} jobs; "
          f"load average {load:.2f} on {os.cpu_count()} cores")
    print(f"{'command':<20} {'min s':>7} {'median s':>9} {'x python':>9}  target")
    for name, seconds in rows:
        median = statistics.median(seconds)
        verdict = "" if name.startswith("python") else ("ok" if median < TARGET_S else f"over {TARGET_S} s")
        print(f"{name:<20} {min(seconds):>7.3f} {median:>9.3f} {median / base:>9.1f}  {verdict}")


if __name__ == "__main__":
    main()
