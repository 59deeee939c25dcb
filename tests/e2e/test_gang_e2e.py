"""Multi-node (gang) jobs end to end: a real `spotwise serve` on the local provider runs every rank with the gang's
variables, resumes a gang whose node 1 was preempted on a new gang from rank 0's checkpoint, and releases a partial
gang when the pool runs out of room for its second node."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from providers.base import TAG_ATTEMPT
from providers.local import processes
from providers.local.records import RecordStore
from tests.e2e.conftest import Daemon, running_daemon, write

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _submit(daemon: Daemon, spec: Path) -> str:
    return str(json.loads(daemon.cli("submit", str(spec), "-o", "json", check=True).stdout)["id"])


def _logs(daemon: Daemon, job_id: str) -> str:
    return "".join(i["data"] for i in daemon.api("GET", f"/v1/jobs/{job_id}/logs")["items"])


def _instances(daemon: Daemon, job_id: str) -> list[dict[str, Any]]:
    return [i for i in daemon.api("GET", "/v1/instances", params={"all": "true"})["items"] if i["job_id"] == job_id]


def _nothing_left(daemon: Daemon, cluster: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while processes.cluster_pids(cluster) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes.cluster_pids(cluster), "gang processes left running"
    open_rows = [i for i in daemon.api("GET", "/v1/instances")["items"]]
    deadline = time.monotonic() + timeout
    while open_rows and time.monotonic() < deadline:  # the reconcile pass closes rows of ended attempts
        time.sleep(0.3)
        open_rows = daemon.api("GET", "/v1/instances")["items"]
    assert not open_rows, open_rows


def test_three_node_gang_runs_every_rank_and_succeeds(daemon: Daemon, tmp_path: Path) -> None:
    out = tmp_path / "ranks"
    out.mkdir()
    spec = write(tmp_path / "gang.yaml", f"""
name: gang-hello
resources: {{accelerators: "T4:1", spot: true, num_nodes: 3}}
env: {{OUT: "{out}"}}
run: |
  ips=$(printf '%s' "$SPOTWISE_NODE_IPS" | tr '\\n' ,)
  echo "rank $SPOTWISE_NODE_RANK of $SPOTWISE_NUM_NODES head $SPOTWISE_HEAD_IP ips $ips"
  echo "$SPOTWISE_NODE_RANK $SPOTWISE_NUM_NODES $SPOTWISE_HEAD_IP $ips" > "$OUT/rank-$SPOTWISE_NODE_RANK"
  python -u {EXAMPLES / "gang_allreduce.py"}
""")
    job_id = _submit(daemon, spec)
    job = daemon.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout=90)
    logs = _logs(daemon, job_id)
    assert job["state"] == "SUCCEEDED", f"{job}\n{logs[-2000:]}"
    assert sorted(p.name for p in out.iterdir()) == ["rank-0", "rank-1", "rank-2"]
    for rank in range(3):
        assert (out / f"rank-{rank}").read_text().split() == [
            str(rank), "3", "127.0.0.1", "127.0.0.1,127.0.0.1,127.0.0.1"]
        assert f"(rank {rank}) rank {rank} of 3 head 127.0.0.1" in logs
        assert f"(rank {rank}) rank {rank} of 3: all-reduce total 4498500 (expected 4498500)" in logs  # over TCP
    [attempt] = job["attempt_list"]
    assert attempt["state"] == "SUCCEEDED" and attempt["end_reason"] == "all 3 nodes exited 0"
    rows = _instances(daemon, job_id)
    assert sorted(r["node"] for r in rows) == [0, 1, 2] and {r["attempt_id"] for r in rows} == {attempt["id"]}
    assert len({r["id"] for r in rows}) == 3 and {r["zone"] for r in rows} == {attempt["zone"]}
    shown = daemon.cli("jobs", "show", job_id, check=True).stdout
    assert "nodes      3" in shown
    _nothing_left(daemon, daemon.cluster_id())


def test_gang_with_a_preempted_node_resumes_on_a_new_gang_from_the_checkpoint(daemon: Daemon, tmp_path: Path) -> None:
    spec = write(tmp_path / "gang-ckpt.yaml", """
name: gang-resume
resources: {accelerators: "T4:1", spot: true, num_nodes: 2}
checkpoint: {dir: /ckpt, interval: 1s}
run: |
  trap 'echo "rank $SPOTWISE_NODE_RANK stopped on attempt $SPOTWISE_ATTEMPT"; exit 143' TERM
  if [ -f "$SPOTWISE_CHECKPOINT_DIR/state" ]; then
    echo "rank $SPOTWISE_NODE_RANK attempt $SPOTWISE_ATTEMPT resumed from $(cat "$SPOTWISE_CHECKPOINT_DIR/state")"
  fi
  if [ "$SPOTWISE_NODE_RANK" = 0 ]; then
    echo "written-by-attempt-$SPOTWISE_ATTEMPT" > "$SPOTWISE_CHECKPOINT_DIR/state"
  fi
  if [ "$SPOTWISE_ATTEMPT" = 1 ]; then sleep 120 & wait; fi
  echo "rank $SPOTWISE_NODE_RANK finished on attempt $SPOTWISE_ATTEMPT"
""")
    job_id = _submit(daemon, spec)
    daemon.wait_for(job_id, {"RUNNING"}, timeout=60)
    deadline = time.monotonic() + 45
    while not daemon.api("GET", f"/v1/jobs/{job_id}/checkpoints")["items"]:  # rank 0's periodic upload
        assert time.monotonic() < deadline, "rank 0 never uploaded a checkpoint"
        time.sleep(0.3)
    [node1] = [r for r in _instances(daemon, job_id) if r["node"] == 1]
    daemon.cli("chaos", "preempt", node1["id"], "--grace", "2", check=True)
    job = daemon.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout=90)
    logs = _logs(daemon, job_id)
    assert job["state"] == "SUCCEEDED", f"{job}\n{logs[-3000:]}"
    first, second = job["attempt_list"]
    assert first["state"] == "PREEMPTED" and first["end_reason"].startswith("node 1 of 2"), first
    assert second["state"] == "SUCCEEDED" and second["resumed_from"]
    for rank in (0, 1):  # every rank of the new gang restored rank 0's checkpoint onto its own disk
        assert f"(rank {rank}) rank {rank} attempt 2 resumed from written-by-attempt-1" in logs, logs[-3000:]
        assert f"(rank {rank}) rank {rank} finished on attempt 2" in logs
    rows = _instances(daemon, job_id)
    assert sorted((r["attempt_id"] == first["id"], r["node"]) for r in rows) == [
        (False, 0), (False, 1), (True, 0), (True, 1)]
    assert [r["node"] for r in rows if r["preempted"]] == [1]  # only the reclaimed node counts as preempted
    _nothing_left(daemon, daemon.cluster_id())


@pytest.fixture
def tight_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """The cheapest T4 spot pool (local-east-b) has room for one instance only."""
    providers = {"local": {"pool_capacity": {"local-east-b:g4dn.xlarge": 1}}}
    with running_daemon(tmp_path / "home", {"SPOTWISE_PROVIDERS": json.dumps(providers)}) as d:
        yield d


def test_gang_whose_second_node_hits_a_capacity_error_lands_elsewhere(tight_daemon: Daemon, tmp_path: Path) -> None:
    daemon = tight_daemon
    spec = write(tmp_path / "gang-tight.yaml", """
name: gang-tight
resources: {accelerators: "T4:1", spot: true, num_nodes: 2}
run: echo "rank $SPOTWISE_NODE_RANK in $SPOTWISE_NUM_NODES"
""")
    job_id = _submit(daemon, spec)
    job = daemon.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout=90)
    assert job["state"] == "SUCCEEDED", job
    first, second = job["attempt_list"]
    assert (first["zone"], first["state"]) == ("local-east-b", "LAUNCH_FAILED")
    assert "gang node 1 of 2 failed; released node(s) 0" in first["end_reason"]
    assert second["zone"] != "local-east-b" and second["state"] == "SUCCEEDED"
    events = [e["reason"] for e in daemon.api("GET", f"/v1/jobs/{job_id}/events")["items"]]
    assert any("CapacityError on 2 x local spot g4dn.xlarge in local-east-b" in e for e in events), events
    assert any(e.startswith("failover: 2 x g4dn.xlarge in ") for e in events), events
    released = [r for r in _instances(daemon, job_id) if r["attempt_id"] == first["id"]]
    assert [(r["node"], r["ended_at"] is not None) for r in released] == [(0, True)]
    logs = _logs(daemon, job_id)
    assert "(rank 0) rank 0 in 2" in logs and "(rank 1) rank 1 in 2" in logs
    _nothing_left(daemon, daemon.cluster_id())


@pytest.mark.slow  # four daemon starts (~8 s each on the 2-core CI box); tests/unit covers the crash point exactly
def test_sigkill_mid_launch_and_mid_run_leaves_every_gang_node_tracked(daemon: Daemon) -> None:
    cluster = daemon.cluster_id()
    body = {"resources": {"accelerators": "T4:1", "spot": True, "num_nodes": 3},
            "run": 'sleep 1.5; echo "done rank $SPOTWISE_NODE_RANK"'}
    job_ids: list[str] = []
    for round_, pause in enumerate((0.05, 0.4, 2.0)):  # mid-launch, while agents meet, mid-run
        job_ids.append(str(daemon.api("POST", "/v1/jobs", json={**body, "name": f"gang-kill-{round_}"})["id"]))
        time.sleep(pause)
        daemon.kill9()
        time.sleep(0.3)
        daemon.start()
    jobs = [daemon.wait_for(j, {"SUCCEEDED", "FAILED", "CANCELLED"}, timeout=120) for j in job_ids]
    assert [j["state"] for j in jobs] == ["SUCCEEDED"] * 3, jobs
    rows = daemon.api("GET", "/v1/instances", params={"all": "true"})["items"]
    nodes = {a["id"]: 3 for j in jobs for a in j["attempt_list"]}
    per_attempt: dict[str, list[int]] = {}
    for r in rows:
        per_attempt.setdefault(r["attempt_id"], []).append(r["node"])
    assert all(len(n) <= nodes[a] and len(set(n)) == len(n) for a, n in per_attempt.items()), per_attempt
    for job in jobs:  # the attempt that succeeded had exactly its three nodes
        [won] = [a for a in job["attempt_list"] if a["state"] == "SUCCEEDED"]
        assert sorted(per_attempt[won["id"]]) == [0, 1, 2]
    records: dict[str, int] = {}  # what the "cloud" holds, whatever the database says
    for record in RecordStore(daemon.home / "local-provider").all():
        records[record.tags[TAG_ATTEMPT]] = records.get(record.tags[TAG_ATTEMPT], 0) + 1
    assert all(n <= 3 for n in records.values()) and set(records) <= set(per_attempt), (records, per_attempt)
    _nothing_left(daemon, cluster)
