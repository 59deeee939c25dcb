"""`spotwise submit` of SkyPilot task files through the real CLI: a field Spotwise cannot honour is a message naming it
and exit code 1, never a traceback; candidates are checked for feasibility by the real daemon (accepted when any
candidate is offered, refused naming them all otherwise)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Daemon


def _cli(*args: str, cwd: Path, daemon: Daemon | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "SPOTWISE_URL": daemon.url if daemon else "http://127.0.0.1:9",
           "SPOTWISE_TOKEN": daemon.token if daemon else "x" * 40,
           "SPOTWISE_HOME": str((daemon.home if daemon else cwd) / "client-home")}
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.mark.parametrize("task,named", [
    ("resources:\n  accelerators: A100:8\n  ports: 8080\nrun: python train.py\n",
     "resources.ports: not supported"),
    ("file_mounts:\n  /data:\n    source: s3://bucket/data\n    mode: MOUNT\nrun: ls /data\n",
     "file_mounts./data: mode MOUNT keeps the bucket mounted while the job runs"),
    ("service:\n  replicas: 2\nrun: python serve.py\n", "service: not supported: SkyServe"),
    ("resources:\n  infra: k8s\nrun: x\n", "resources.infra: 'k8s'"),
    ("envs:\n  MODEL: null\nrun: x\n", "envs.MODEL: has no value"),
])
def test_unsupported_fields_are_named_with_exit_1(tmp_path: Path, task: str, named: str) -> None:
    (tmp_path / "task.yaml").write_text(task)
    result = _cli("submit", "task.yaml", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "task.yaml: invalid job spec:" in result.stderr and named in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_format_option_and_ambiguous_files(tmp_path: Path) -> None:
    (tmp_path / "mixed.yaml").write_text("name: m\nresources:\n  use_spot: true\n  spot: true\nrun: x\n")
    mixed = _cli("submit", "mixed.yaml", cwd=tmp_path)
    assert mixed.returncode == 1 and "pass --format skypilot or --format spotwise" in mixed.stderr
    wrong = _cli("submit", "mixed.yaml", "--format", "slurm", cwd=tmp_path)
    assert wrong.returncode == 1 and "--format 'slurm': use one of auto, spotwise, skypilot" in wrong.stderr
    forced = _cli("submit", "mixed.yaml", "--format", "skypilot", cwd=tmp_path)
    assert forced.returncode == 1 and "resources.spot: not a SkyPilot resources field" in forced.stderr
    assert "Traceback" not in mixed.stderr + wrong.stderr + forced.stderr


def _offers_loaded(daemon: Daemon) -> None:
    deadline = time.monotonic() + 60
    while not daemon.api("GET", "/v1/offers", params={"gpu": "H100:8"})["items"]:
        assert time.monotonic() < deadline, "the local provider's offers never loaded"
        time.sleep(0.3)


def test_candidates_are_feasible_when_any_is_offered(daemon: Daemon, tmp_path: Path) -> None:
    _offers_loaded(daemon)
    (tmp_path / "any.yaml").write_text("resources:\n  accelerators: {B200:8, H100:8}\n  use_spot: true\nrun: x\n")
    shown = _cli("submit", "any.yaml", "--dry-run", "-o", "json", cwd=tmp_path, daemon=daemon)
    assert shown.returncode == 0, shown.stderr
    result = json.loads(shown.stdout)
    assert result["accelerators"] == "B200:8 or H100:8"
    assert result["offers"] and {o["gpu_model"] for o in result["offers"]} == {"H100"}  # the local provider's
    queued = _cli("submit", "any.yaml", "-o", "json", cwd=tmp_path, daemon=daemon)
    assert queued.returncode == 0, queued.stderr
    listed = daemon.api("GET", "/v1/jobs")["items"]
    assert [j["accelerators"] for j in listed if j["id"] == json.loads(queued.stdout)["id"]] == ["B200:8 or H100:8"]
    (tmp_path / "none.yaml").write_text("resources:\n  accelerators: {B200:8, H200:8}\nrun: x\n")
    refused = _cli("submit", "none.yaml", cwd=tmp_path, daemon=daemon)
    assert refused.returncode == 1 and "no configured provider offers B200:8 or H200:8" in refused.stderr
    both = daemon.api("GET", "/v1/offers", params=[("gpu", "V100:1"), ("gpu", "L4:1"), ("market", "spot")])
    assert {o["gpu_model"] for o in both["items"]} == {"V100", "L4"}
    prices = [o["expected_cost"] for o in both["items"]]
    assert prices == sorted(prices)  # ranked together
