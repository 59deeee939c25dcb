"""The SkyPilot task files in examples/skypilot/ run unchanged: a real daemon, the real CLI (`spotwise submit
TASK.yaml --wait` from that folder, as `sky launch` is run) and the local provider.

Each example's `run` checks SkyPilot's variables itself (check_env.py) and fails the job when one is missing or
wrong, so SUCCEEDED means the task saw what SkyPilot would give it. The host has no docker engine, so the image
example runs through a stand-in `docker` first on PATH that records its command line and runs the container's
command on the host with only the variables passed by name (`-e NAME`) -- what a container would see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Daemon, running_daemon

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "skypilot"

FAKE_DOCKER = '''#!{python}
"""Stand-in for the docker CLI: `docker run ... --entrypoint SH IMAGE -c SCRIPT NAME` runs SH -c SCRIPT here."""
import json, os, sys
argv = sys.argv[1:]
with open({log!r}, "a") as out:
    out.write(json.dumps(argv) + "\\n")
if argv[:1] != ["run"]:
    sys.exit(0)  # docker rm -f after the job
i = argv.index("--entrypoint")
entry, image, flag, script, rest = argv[i + 1], argv[i + 2], argv[i + 3], argv[i + 4], argv[i + 5:]
names = [argv[j + 1] for j, a in enumerate(argv[:i]) if a == "-e"]
env = {{n: os.environ[n] for n in names if n in os.environ}}
env["PATH"] = os.environ["PATH"]
os.execvpe(entry, [entry, flag, script, *rest], env)
'''


@pytest.fixture(scope="module")
def sky_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, Path]]:
    root = tmp_path_factory.mktemp("skypilot-examples")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    docker_log = root / "docker-argv.jsonl"
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable, log=str(docker_log)))
    docker.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with running_daemon(root / "home", env) as daemon:
        yield daemon, docker_log


def _submit(daemon: Daemon, task: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    """`spotwise submit TASK --wait -o json` from examples/skypilot/; (result, final job with spec, job log)."""
    env = {**os.environ, "SPOTWISE_URL": daemon.url, "SPOTWISE_TOKEN": daemon.token,
           "SPOTWISE_HOME": str(daemon.home / "client-home"), "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "orchestrator", "submit", task, "--wait", "-o", "json"],
                            env=env, capture_output=True, text=True, timeout=300, cwd=EXAMPLES)
    assert result.returncode == 0, result.stderr + result.stdout
    job = daemon.api("GET", f"/v1/jobs/{json.loads(result.stdout)['id']}")
    logs = "".join(i["data"] for i in daemon.api("GET", f"/v1/jobs/{job['id']}/logs")["items"])
    assert job["state"] == "SUCCEEDED", json.dumps(job)[:2000] + logs
    return result, job, logs


def test_single_gpu_task(sky_daemon: tuple[Daemon, Path]) -> None:
    daemon, _ = sky_daemon
    _, job, logs = _submit(daemon, "single-gpu.yaml")
    assert f"skypilot env: task={job['id']} rank=0 nodes=1 gpus=1" in logs
    assert "setup on " in logs and "training for 3 epochs" in logs  # setup ran, then run with the task's envs
    [attempt] = job["attempt_list"]
    assert attempt["instance_type"] == "g4dn.xlarge" and attempt["spot"] is True  # T4:1, use_spot: true


def test_candidate_list_takes_the_cheapest_candidate(sky_daemon: tuple[Daemon, Path]) -> None:
    daemon, _ = sky_daemon
    _, job, logs = _submit(daemon, "candidates.yaml")
    assert job["spec"]["resources"]["accelerator_candidates"]
    [attempt] = job["attempt_list"]
    assert attempt["instance_type"] == "g6.xlarge"  # L4 spot is cheaper than every V100 spot offer
    assert "gpus=1" in logs


def test_multi_node_torchrun_shape(sky_daemon: tuple[Daemon, Path]) -> None:
    daemon, _ = sky_daemon
    _, job, logs = _submit(daemon, "multi-node.yaml")
    for rank in (0, 1):
        assert f"(rank {rank}) skypilot env: task={job['id']} rank={rank} nodes=2 gpus=1" in logs
        assert f"(rank {rank}) torchrun stand-in: node {rank} of 2 met at " in logs
    assert "rendezvous: rank 1 joined" in logs


def test_docker_image_task(sky_daemon: tuple[Daemon, Path]) -> None:
    daemon, docker_log = sky_daemon
    _, job, logs = _submit(daemon, "docker-image.yaml")
    assert "setup inside the image" in logs and f"skypilot env: task={job['id']} rank=0 nodes=1 gpus=1" in logs
    runs = [json.loads(line) for line in docker_log.read_text().splitlines() if line.startswith('["run"')]
    [argv] = [a for a in runs if "python:3.11-slim" in a]
    assert argv[argv.index("--entrypoint") + 2] == "python:3.11-slim"
    passed = {argv[i + 1] for i, a in enumerate(argv) if a == "-e"}
    assert {"SKYPILOT_TASK_ID", "SKYPILOT_NODE_RANK", "SKYPILOT_NODE_IPS", "SKYPILOT_NUM_NODES",
            "SKYPILOT_NUM_GPUS_PER_NODE"} <= passed


def test_file_mounts_task(sky_daemon: tuple[Daemon, Path]) -> None:
    daemon, _ = sky_daemon
    _, job, logs = _submit(daemon, "file-mounts.yaml")
    assert "learning_rate: 0.001" in logs and "a,b" in logs  # a file and a folder copied into place
    assert "gpus=0" in logs
    [attempt] = job["attempt_list"]
    assert attempt["spot"] is False  # SkyPilot's default market is on-demand
