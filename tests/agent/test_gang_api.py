"""The agent API for gang attempts through the real app and store: node-scoped tokens, per-node heartbeats, logs
and exits, the rendezvous, and the all-succeed / any-fails / any-preempted rules."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import job_by_id, submit
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Instance, LogChunk
from orchestrator.tokens import agent_token
from tests.fakes.provider import FakeProvider, make_offer


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    wheel = tmp_path / "spotwise-0-py3-none-any.whl"  # a stand-in: these fake clouds never install it
    wheel.write_bytes(b"not built: saves the 5 s wheel build per test")
    runtime = build_runtime(Settings(home=tmp_path, providers={}, agent_wheel=str(wheel)), with_providers=False)
    runtime.providers = {"cheap": FakeProvider("cheap", [make_offer("cheap", "c1-a", 0.10)])}  # type: ignore[dict-item]
    yield runtime
    runtime.close()


class Gang:
    def __init__(self, rt: Runtime, nodes: int = 2) -> None:
        self.rt = rt
        with transaction(rt.sessions) as s:
            self.job_id = submit(s, JobSpec(name="g", run="true", resources={  # type: ignore[arg-type]
                "accelerators": "T4:1", "spot": True, "num_nodes": nodes})).id
        Reconciler(rt).run_once()
        with transaction(rt.sessions) as s:
            self.attempt_id = s.scalar(select(Attempt.id).where(Attempt.job_id == self.job_id))
        self.api = TestClient(create_app(rt))

    def call(self, node: int | None, method: str, path: str, body: Any = None) -> Any:
        token = agent_token(self.rt.agent_secret, self.attempt_id, node)
        return self.api.request(method, f"/v1/agent/attempts/{self.attempt_id}{path}", json=body,
                                headers={"Authorization": f"Bearer {token}"})

    def states(self) -> tuple[str, str]:
        with transaction(self.rt.sessions) as s:
            attempt = s.get(Attempt, self.attempt_id)
            assert attempt is not None
            return job_by_id(s, self.job_id).state, attempt.state


def test_node_tokens_speak_for_their_node_only(rt: Runtime) -> None:
    gang = Gang(rt)
    assert gang.call(None, "GET", "/spec").status_code == 403  # a one-node token cannot drive a gang
    assert "node-scoped" in gang.call(None, "GET", "/spec").json()["error"]["message"]
    assert gang.call(2, "GET", "/spec").status_code == 403  # no node 2 in a 2-node gang
    spec = gang.call(1, "GET", "/spec").json()
    assert (spec["node_rank"], spec["num_nodes"]) == (1, 2)
    refused = gang.call(1, "POST", "/heartbeat", {"node": 0})
    assert refused.status_code == 403 and "only report for node 1" in refused.json()["error"]["message"]
    assert gang.call(1, "POST", "/exit", {"exit_code": 0, "node": 0}).status_code == 403
    token = agent_token(rt.agent_secret, gang.attempt_id, 1)
    forged = token.replace(f"{gang.attempt_id}#1.", f"{gang.attempt_id}#0.")  # node 1's MAC, node 0's claim
    response = gang.api.get(f"/v1/agent/attempts/{gang.attempt_id}/spec", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_single_node_tokens_keep_working(rt: Runtime) -> None:
    gang = Gang(rt, nodes=1)
    spec = gang.call(None, "GET", "/spec").json()
    assert (spec["node_rank"], spec["num_nodes"]) == (0, 1)
    assert gang.call(None, "POST", "/exit", {"exit_code": 0}).json() == {"ok": True}
    assert gang.states() == ("SUCCEEDED", "SUCCEEDED")


def test_rendezvous_answers_every_address_in_rank_order_once_all_nodes_said(rt: Runtime) -> None:
    gang = Gang(rt, nodes=3)
    first = gang.call(2, "POST", "/gang", {"ip": "10.0.0.12"}).json()
    assert first["node_ips"] is None and first["waiting_for"] == [0, 1] and first["node_rank"] == 2
    gang.call(0, "POST", "/gang", {"ip": "10.0.0.10"})
    done = gang.call(1, "POST", "/gang", {"ip": "10.0.0.11"}).json()
    assert done["node_ips"] == ["10.0.0.10", "10.0.0.11", "10.0.0.12"] and done["active"]
    bad = gang.call(1, "POST", "/gang", {"ip": "not-an-ip; rm -rf /"})
    assert bad.status_code == 422 and "is not an IPv4 or IPv6 address" in bad.text


def test_the_gang_succeeds_only_when_every_node_exits_zero(rt: Runtime) -> None:
    gang = Gang(rt)
    for node in (0, 1):
        assert gang.call(node, "POST", "/heartbeat", {}).json()["action"] == "continue"
    with transaction(rt.sessions) as s:
        beats = [r.last_heartbeat_at for r in s.scalars(select(Instance).order_by(Instance.node))]
    assert all(b is not None for b in beats)
    assert gang.call(1, "POST", "/exit", {"exit_code": 0}).json()["waiting_for_other_nodes"]
    assert gang.call(1, "POST", "/exit", {"exit_code": 0}).json()["waiting_for_other_nodes"]  # a re-send
    assert gang.states() == ("RUNNING", "RUNNING")
    assert gang.call(0, "POST", "/exit", {"exit_code": 0}).json() == {"ok": True}
    assert gang.states() == ("SUCCEEDED", "SUCCEEDED")


def test_any_node_failing_fails_the_gang_and_stops_the_others(rt: Runtime) -> None:
    gang = Gang(rt)
    gang.call(0, "POST", "/heartbeat", {})
    assert gang.call(1, "POST", "/exit", {"exit_code": 3, "message": "NCCL timeout"}).json() == {"ok": True}
    job_state, attempt_state = gang.states()
    assert attempt_state == "FAILED" and job_state in ("PREEMPTED", "FAILED", "PENDING")
    with transaction(rt.sessions) as s:
        attempt = s.get(Attempt, gang.attempt_id)
        assert attempt is not None and attempt.end_reason.startswith("node 1 of 2: exit code 3: NCCL timeout")
    assert gang.call(0, "POST", "/heartbeat", {}).json()["action"] == "stop"
    assert gang.call(0, "POST", "/exit", {"exit_code": 143}).json()["gang_already_ended"]


def test_any_node_preempted_preempts_the_gang(rt: Runtime) -> None:
    gang = Gang(rt)
    gang.call(1, "POST", "/exit", {"exit_code": 0})
    assert gang.call(0, "POST", "/exit", {"exit_code": 143, "preempted": True}).json() == {"ok": True}
    job_state, attempt_state = gang.states()
    assert attempt_state == "PREEMPTED" and job_state not in ("SUCCEEDED", "FAILED")


def test_each_nodes_logs_are_kept_even_with_the_same_sequence_numbers(rt: Runtime) -> None:
    gang = Gang(rt)
    for node in (0, 1, 1):  # node 1 re-sends its batch: stored once
        chunk = {"stream": "stdout", "seq": 0, "data": f"(rank {node}) hello\n"}
        assert gang.call(node, "POST", "/logs", {"chunks": [chunk]}).status_code == 200
    with transaction(rt.sessions) as s:
        assert sorted(c.data for c in s.scalars(select(LogChunk))) == ["(rank 0) hello\n", "(rank 1) hello\n"]


def test_nodes_exiting_at_the_same_moment_still_finish_the_gang(tmp_path: Path, db_url: str) -> None:
    """Two exit reports in flight together (PostgreSQL runs them concurrently): neither may miss the other's."""
    wheel = tmp_path / "spotwise-0-py3-none-any.whl"
    wheel.write_bytes(b"stand-in")
    runtime = build_runtime(Settings(home=tmp_path, providers={}, database_url=db_url, agent_wheel=str(wheel)),
                            with_providers=False)
    runtime.providers = {"cheap": FakeProvider("cheap", [make_offer("cheap", "c1-a", 0.10)])}  # type: ignore[dict-item]
    try:
        for _ in range(3):
            gang = Gang(runtime, nodes=4)
            barrier = threading.Barrier(4)

            def report(node: int, gang: Gang = gang, barrier: threading.Barrier = barrier) -> int:
                barrier.wait()
                return int(gang.call(node, "POST", "/exit", {"exit_code": 0}).status_code)

            with ThreadPoolExecutor(4) as pool:
                assert list(pool.map(report, range(4))) == [200] * 4
            assert gang.states() == ("SUCCEEDED", "SUCCEEDED")
    finally:
        runtime.close()
