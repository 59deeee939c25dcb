"""Multi-node jobs in a container share the host's network, so the nodes reach each other on the addresses the
agent exports (SPOTWISE_NODE_IPS / SPOTWISE_HEAD_IP); one-node jobs keep docker's default bridge."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from orchestrator.agent.client import AgentClient
from orchestrator.agent.container import docker_argv
from orchestrator.agent.main import Agent


def _argv(num_nodes: int) -> list[str]:
    return docker_argv("pytorch:24", name="n", workdir=Path("/w"), checkpoint_dir=Path("/c"),
                       container_checkpoint_dir="/c", env_names=["SPOTWISE_NODE_IPS"], num_nodes=num_nodes)


def _network(argv: list[str]) -> list[str]:
    image_at = argv.index("pytorch:24")
    return [argv[i + 1] for i, a in enumerate(argv[:image_at]) if a in ("--network", "--net")]


def test_gang_container_uses_the_host_network_before_the_image() -> None:
    assert _network(_argv(2)) == ["host"] and _network(_argv(8)) == ["host"]
    argv = _argv(2)
    assert argv.index("--network") < argv.index("--entrypoint")  # a docker option, not an argument of the job


def test_one_node_container_keeps_the_default_network() -> None:
    assert _network(_argv(1)) == []
    assert _argv(1) == docker_argv("pytorch:24", name="n", workdir=Path("/w"), checkpoint_dir=Path("/c"),
                                   container_checkpoint_dir="/c", env_names=["SPOTWISE_NODE_IPS"])  # the default


def _phases(tmp_path: Path, **spec: Any) -> list[str]:
    """The command the agent would run for an `image:` spec (its real _phases), split back into argv."""
    agent = Agent(AgentClient("http://127.0.0.1:9", "swa.token", "a-1"), tmp_path, None)
    full = {"attempt_id": "a-1", "image": "pytorch:24", "run": "torchrun train.py", "setup": None, **spec}
    env = {"SPOTWISE_NODE_IPS": "10.0.0.1\n10.0.0.2", "SPOTWISE_HEAD_IP": "10.0.0.1"}
    [(phase, command, docker_env)] = agent._phases(full, tmp_path / "w", tmp_path / "c", env)
    assert phase == "run" and command is not None and docker_env["SPOTWISE_HEAD_IP"] == "10.0.0.1"
    words = shlex.split(command)
    assert words[0] == "exec"
    return words[1:]


def test_the_agent_runs_gang_nodes_on_the_host_network(tmp_path: Path) -> None:
    gang = _phases(tmp_path, num_nodes=2, node_rank=1)
    assert _network(gang) == ["host"] and "spotwise-a-1-node1" in gang
    passed = {gang[i + 1] for i, a in enumerate(gang) if a == "-e"}
    assert {"SPOTWISE_NODE_IPS", "SPOTWISE_HEAD_IP"} <= passed  # the addresses the nodes meet on
    assert _network(_phases(tmp_path, num_nodes=1)) == []
    assert _network(_phases(tmp_path)) == []  # an older daemon's spec without num_nodes: one node
