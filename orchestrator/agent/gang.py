"""A gang node's part in a multi-node job: find its own address, meet the other nodes, and set the
variables distributed launchers read (torchrun, deepspeed, mpirun, NCCL).

The job's command runs on every node with
  SPOTWISE_NODE_RANK   this node's rank (0 is the head)
  SPOTWISE_NUM_NODES   how many nodes the gang has
  SPOTWISE_NODE_IPS    every node's address in rank order, one per line (SkyPilot's format)
  SPOTWISE_HEAD_IP     rank 0's address (e.g. torchrun --master_addr)
A one-node job gets the same variables (rank 0 of 1, its own address), so one script serves both.
A gang's container (`image:`) runs with `--network host` (orchestrator/agent/container.py), so these
addresses are the container's own and the other nodes reach it on them.

Why the agents report their address instead of the daemon asking the cloud: every cloud names private
addresses differently, the address that reaches the other nodes is the one the node itself routes from, and
a rendezvous through the daemon also tells each node that the whole gang is up before the job starts.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from orchestrator.agent.client import AgentClient

RENDEZVOUS_POLL_SECONDS = 1.0


def own_ip(daemon_url: str) -> str:
    """SPOTWISE_NODE_IP when the instance sets it (the local provider: 127.0.0.1), else the address this host
    routes from towards the daemon (a UDP "connect" sends nothing), else 127.0.0.1."""
    configured = os.environ.get("SPOTWISE_NODE_IP", "").strip()
    if configured:
        return configured
    host = urlsplit(daemon_url).hostname or "8.8.8.8"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 9))
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


def meet(client: AgentClient, ip: str, stopped: Callable[[], bool], log: Callable[[str], None],
         timeout: float = 3600.0) -> list[str] | None:
    """Report `ip` and wait until every node has reported; the addresses in rank order, or None when the
    attempt ended (or `stopped()`) first. The daemon ends a gang whose nodes never come up."""
    deadline = time.monotonic() + timeout
    waiting: list[int] | None = None
    while not stopped() and time.monotonic() < deadline:
        answer = client.call("POST", "/gang", json={"ip": ip}, give_up_after=60.0)
        if not answer.get("active", True):
            return None
        if answer.get("node_ips"):
            return [str(a) for a in answer["node_ips"]]
        if answer.get("waiting_for") != waiting:
            waiting = answer.get("waiting_for")
            log(f"node {answer.get('node_rank')} of {answer.get('num_nodes')} at {ip}; waiting for node(s) {waiting}")
        time.sleep(RENDEZVOUS_POLL_SECONDS)
    return None


def gang_env(rank: int, ips: list[str]) -> dict[str, str]:
    """Spotwise's variables and, beside them, SkyPilot's names for the same facts, so a SkyPilot task's `run`
    (`torchrun --node_rank=$SKYPILOT_NODE_RANK --master_addr=$(echo "$SKYPILOT_NODE_IPS" | head -n1)`) runs
    unchanged (docs/skypilot.md)."""
    return {"SPOTWISE_NODE_RANK": str(rank), "SPOTWISE_NUM_NODES": str(len(ips)),
            "SPOTWISE_NODE_IPS": "\n".join(ips), "SPOTWISE_HEAD_IP": ips[0],
            "SKYPILOT_NODE_RANK": str(rank), "SKYPILOT_NUM_NODES": str(len(ips)), "SKYPILOT_NODE_IPS": "\n".join(ips),
            # what SkyPilot's `setup` reads: the same nodes (Spotwise's setup runs after the gang met)
            "SKYPILOT_SETUP_NODE_RANK": str(rank), "SKYPILOT_SETUP_NODE_IPS": "\n".join(ips)}
