"""A stand-in for `torchrun` where torch is not installed (the local provider's GPUs are fake): it takes torchrun's
arguments, checks them against the SkyPilot variables, and does what torchrun's rendezvous does first -- every node
connects to the head at --master_addr:--master_port -- so a wrong SKYPILOT_NODE_IPS or rank fails the job.

On a real GPU cluster the same task runs `torchrun` itself; see multi-node.yaml.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time

TIMEOUT = 300.0


def head(port: int, nodes: int) -> None:
    """Rank 0: accept one hello from every other rank, then tell each how many ranks met."""
    with socket.create_server(("", port), reuse_port=False) as server:
        server.settimeout(TIMEOUT)
        peers = []
        while len(peers) < nodes - 1:
            conn, _ = server.accept()
            rank = int(conn.recv(16).decode())
            print(f"rendezvous: rank {rank} joined")
            peers.append(conn)
        for conn in peers:
            conn.sendall(str(nodes).encode())
            conn.close()


def worker(addr: str, port: int, rank: int) -> int:
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            with socket.create_connection((addr, port), timeout=10) as conn:
                conn.sendall(str(rank).encode())
                return int(conn.recv(16).decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nnodes", type=int, required=True)
    parser.add_argument("--nproc_per_node", type=int, required=True)
    parser.add_argument("--node_rank", type=int, required=True)
    parser.add_argument("--master_addr", required=True)
    parser.add_argument("--master_port", type=int, required=True)
    parser.add_argument("script")
    args, _rest = parser.parse_known_args()
    ips = os.environ["SKYPILOT_NODE_IPS"].splitlines()
    if args.nnodes != len(ips) or args.master_addr != ips[0] or not 0 <= args.node_rank < args.nnodes:
        print(f"inconsistent: nnodes={args.nnodes} rank={args.node_rank} master={args.master_addr} ips={ips}",
              file=sys.stderr)
        return 1
    if args.node_rank == 0:
        head(args.master_port, args.nnodes)
    else:
        worker(args.master_addr, args.master_port, args.node_rank)
    world = args.nnodes * args.nproc_per_node
    print(f"torchrun stand-in: node {args.node_rank} of {args.nnodes} met at {args.master_addr}:{args.master_port}; "
          f"world size {world}; would run {args.script}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
