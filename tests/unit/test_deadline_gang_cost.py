"""The deadline decision's event states what the decided market costs the whole job an hour: a gang of N nodes
pays N times the per-node price the policy compares (the decision itself is the same for any N).

Through the real Reconciler on a real SQLite file with a fake cloud: spot 0.10 $/h and on-demand 0.50 $/h a node.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, JobEvent
from tests.fakes.provider import FakeProvider, make_offer


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    wheel = tmp_path / "spotwise-0-py3-none-any.whl"  # a stand-in: the fake cloud never installs it
    wheel.write_bytes(b"not built")
    runtime = build_runtime(Settings(home=tmp_path, providers={}, agent_wheel=str(wheel)), with_providers=False)
    offers = [make_offer("fake", "f1-a", 0.10), make_offer("fake", "f1-a", 0.50, spot=False)]
    runtime.providers = {"fake": FakeProvider("fake", offers)}  # type: ignore[dict-item]
    yield runtime
    runtime.close()


def _decide(rt: Runtime, nodes: int) -> tuple[str, list[bool]]:
    """Submit a deadline job of `nodes` nodes, run one reconcile pass: (the deadline event, attempts' markets)."""
    spec = JobSpec(name="d", run="true", resources={"accelerators": "T4:1", "num_nodes": nodes},  # type: ignore[arg-type]
                   deadline=timedelta(hours=10), estimated_runtime=timedelta(hours=1))
    with transaction(rt.sessions) as s:
        job_id = submit(s, spec).id
    Reconciler(rt).run_once()
    with transaction(rt.sessions) as s:
        [event] = s.scalars(select(JobEvent.reason).where(JobEvent.job_id == job_id, JobEvent.kind == "deadline"))
        spots = list(s.scalars(select(Attempt.spot).where(Attempt.job_id == job_id)))
    return event, spots


@pytest.mark.parametrize("nodes", [1, 2, 4])
def test_spot_decision_states_the_gang_total(rt: Runtime, nodes: int) -> None:
    event, spots = _decide(rt, nodes)
    assert event.startswith("deadline policy: spot in f1-a") and spots == [True]  # the same decision for any N
    if nodes == 1:
        assert event.endswith("; spot in f1-a costs the job about $0.1/h")
    else:
        total = f"{0.10 * nodes:.4g}"
        assert event.endswith(f"; spot in f1-a costs the job about ${total}/h ({nodes} nodes at $0.1/h each)")


def test_on_demand_decision_states_the_gang_total(rt: Runtime) -> None:
    rt.settings.deadline_policy = "on-demand"
    event, spots = _decide(rt, 3)
    assert event.startswith("deadline policy: on-demand") and spots == [False]
    assert event.endswith("; on-demand costs the job about $1.5/h (3 nodes at $0.5/h each)")
