"""Prints and checks the variables SkyPilot gives a task's `run`, as Spotwise sets them (docs/skypilot.md).

Exits non-zero when one is missing or they disagree, so `spotwise submit` of the example fails loudly.
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1, help="the node count the task asks for")
    parser.add_argument("--gpus", type=int, default=None, help="GPUs per node the task expects (any when left out)")
    args = parser.parse_args()
    names = ("SKYPILOT_TASK_ID", "SKYPILOT_NODE_RANK", "SKYPILOT_NUM_NODES", "SKYPILOT_NODE_IPS",
             "SKYPILOT_NUM_GPUS_PER_NODE")
    missing = [n for n in names if n not in os.environ]
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    ips = os.environ["SKYPILOT_NODE_IPS"].splitlines()
    rank, nodes = int(os.environ["SKYPILOT_NODE_RANK"]), int(os.environ["SKYPILOT_NUM_NODES"])
    gpus = int(os.environ["SKYPILOT_NUM_GPUS_PER_NODE"])
    problems = []
    if nodes != args.nodes or len(ips) != nodes:
        problems.append(f"{nodes} nodes and {len(ips)} addresses, expected {args.nodes}")
    if not 0 <= rank < nodes:
        problems.append(f"rank {rank} is not in 0..{nodes - 1}")
    if args.gpus is not None and gpus != args.gpus:
        problems.append(f"{gpus} GPUs per node, expected {args.gpus}")
    print(f"skypilot env: task={os.environ['SKYPILOT_TASK_ID']} rank={rank} nodes={nodes} gpus={gpus} "
          f"ips={','.join(ips)}")
    for problem in problems:
        print(f"wrong: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
