"""End to end: the real daemon subprocess, the real CLI, the local provider's real processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from providers.local import processes
from tests.e2e.conftest import Daemon, write


def test_jobs_succeed_and_fail_with_their_exit_code(daemon: Daemon, tmp_path: Path) -> None:
    ok = write(tmp_path / "ok.yaml", "name: hello\nrun: echo hello from $SPOTWISE_JOB_ID\n"
                                     "resources: {accelerators: 'T4:1', spot: true}\n")
    bad = write(tmp_path / "bad.yaml", "name: broken\nrun: echo about to fail >&2; exit 3\n")
    done = daemon.cli("submit", str(ok), "--wait")
    assert done.returncode == 0, done.stderr
    assert "SUCCEEDED" in done.stdout and "hello from j-" in done.stdout
    failed = daemon.cli("submit", str(bad), "--wait", "--output", "json")
    assert failed.returncode == 1
    job = json.loads(failed.stdout)
    assert job["state"] == "FAILED" and job["exit_code"] == 3
    shown = daemon.cli("jobs", "show", job["id"], check=True).stdout
    assert "FAILED" in shown and "exit code  3" in shown and "exit code 3" in shown
    logs = daemon.cli("jobs", "logs", job["id"], check=True)
    assert "about to fail" in logs.stderr
    listed = json.loads(daemon.cli("jobs", "list", "-o", "json", check=True).stdout)["items"]
    assert {j["state"] for j in listed} == {"SUCCEEDED", "FAILED"}
    ledger = json.loads(daemon.cli("costs", "--by", "job", "-o", "json", check=True).stdout)["items"]
    charged = {row["job"]: row["cost_usd"] for row in ledger}  # whole seconds: a sub-second job costs 0
    assert {j["id"]: j["cost_usd"] for j in listed} == {j["id"]: charged.get(j["id"], 0.0) for j in listed}


def test_cancel_terminates_the_instance(daemon: Daemon, tmp_path: Path) -> None:
    spec = write(tmp_path / "long.yaml", "name: long\nrun: sleep 300\n")
    job_id = json.loads(daemon.cli("submit", str(spec), "-o", "json", check=True).stdout)["id"]
    daemon.wait_for(job_id, {"RUNNING"})
    cancelled = daemon.cli("jobs", "cancel", job_id, check=True)
    assert "CANCELLED" in cancelled.stdout
    cluster = daemon.cluster_id()
    deadline = time.monotonic() + 20
    while processes.cluster_pids(cluster) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes.cluster_pids(cluster) == []
    while time.monotonic() < deadline:  # the attempt is closed by the same pass, just after the kill
        job = daemon.api("GET", f"/v1/jobs/{job_id}")
        if job["attempt_list"][0]["state"] == "CANCELLED" and not daemon.api("GET", "/v1/instances")["items"]:
            break
        time.sleep(0.2)
    assert job["attempt_list"][0]["state"] == "CANCELLED"
    assert daemon.api("GET", "/v1/instances")["items"] == []


def test_bad_input_gets_clear_messages_not_tracebacks(daemon: Daemon, tmp_path: Path) -> None:
    cases = {
        "not valid YAML at line": "name: x\nrun: [unclosed\n",
        "unknown field 'gpu'": "name: x\nrun: echo\ngpu: A100\n",
        "GPU count must be at least 1": "name: x\nrun: echo\nresources: {accelerators: 'A100:-1'}\n",
    }
    for expected, text in cases.items():
        result = daemon.cli("submit", str(write(tmp_path / "spec.yaml", text)))
        assert result.returncode != 0
        assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr
    missing = daemon.cli("submit", str(tmp_path / "nope.yaml"))
    assert missing.returncode != 0 and "file not found" in missing.stderr

    spec = write(tmp_path / "ok.yaml", "name: x\nrun: sleep 1\n")
    no_token = daemon.cli("submit", str(spec), token="")
    assert no_token.returncode != 0 and "missing bearer token" in no_token.stderr
    assert "Traceback" not in no_token.stderr

    team_a = json.loads(daemon.cli("tokens", "create", "--team", "a", "-o", "json", check=True).stdout)["token"]
    team_b = json.loads(daemon.cli("tokens", "create", "--team", "b", "-o", "json", check=True).stdout)["token"]
    job_id = json.loads(daemon.cli("submit", str(spec), "-o", "json", token=team_a, check=True).stdout)["id"]
    other = daemon.cli("jobs", "show", job_id, token=team_b)
    assert other.returncode != 0 and f"job {job_id} not found" in other.stderr
    assert "Traceback" not in other.stderr
    usage = daemon.cli("tokens", "create")
    assert usage.returncode != 0 and "--team" in usage.stderr
    unreachable = daemon.cli("jobs", "list")
    assert unreachable.returncode == 0
