"""The smallest real multi-node job: every rank computes a partial sum, rank 0 gathers the parts over TCP at
SPOTWISE_HEAD_IP and sends the total back -- the rendezvous torchrun/NCCL/Gloo do at MASTER_ADDR.

Run it with `resources.num_nodes: N` (see gang-allreduce.yaml); it also runs alone (rank 0 of 1). Every rank
prints the same total and exits 0 only when it equals the closed-form answer, so the job SUCCEEDS only when
every node took part. With torch installed the same variables drive:
  torchrun --nnodes "$SPOTWISE_NUM_NODES" --node_rank "$SPOTWISE_NODE_RANK" \\
           --master_addr "$SPOTWISE_HEAD_IP" --master_port 29500 --nproc_per_node gpu train.py
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import time

CHUNK = 1000


def _port() -> int:
    """A port per attempt (several gangs may share the local provider's host); GANG_PORT overrides it."""
    if os.environ.get("GANG_PORT"):
        return int(os.environ["GANG_PORT"])
    seed = f"{os.environ.get('SPOTWISE_JOB_ID', '')}-{os.environ.get('SPOTWISE_ATTEMPT', '')}".encode()
    return 20000 + int(hashlib.sha256(seed).hexdigest(), 16) % 20000


def _gather(nodes: int, head: str, port: int, part: int) -> int:
    with socket.create_server((head, port)) as server:
        server.settimeout(120)
        peers = [server.accept()[0] for _ in range(nodes - 1)]
        total = part + sum(int(p.makefile().readline()) for p in peers)
        for peer in peers:
            peer.sendall(f"{total}\n".encode())
            peer.close()
    return total


def _send(head: str, port: int, part: int) -> int:
    deadline = time.monotonic() + 120
    while True:
        try:
            with socket.create_connection((head, port), timeout=120) as conn:
                conn.sendall(f"{part}\n".encode())
                return int(conn.makefile().readline())
        except (ConnectionRefusedError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)  # rank 0 is not listening yet


def main() -> int:
    rank = int(os.environ.get("SPOTWISE_NODE_RANK", "0"))
    nodes = int(os.environ.get("SPOTWISE_NUM_NODES", "1"))
    head = os.environ.get("SPOTWISE_HEAD_IP", "127.0.0.1")
    part = sum(range(rank * CHUNK, (rank + 1) * CHUNK))
    if nodes == 1:
        total = part
    elif rank == 0:
        total = _gather(nodes, head, _port(), part)
    else:
        total = _send(head, _port(), part)
    expected = nodes * CHUNK * (nodes * CHUNK - 1) // 2
    print(f"rank {rank} of {nodes}: all-reduce total {total} (expected {expected})", flush=True)
    return 0 if total == expected else 1


if __name__ == "__main__":
    sys.exit(main())
