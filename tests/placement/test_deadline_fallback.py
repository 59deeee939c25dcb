"""A job with a tight deadline whose spot pools keep failing switches to on-demand in time and meets the deadline.

Through the real Reconciler on a real SQLite file with a scriptable fake cloud whose spot pools always raise
CapacityError. Time is fast-forwarded by moving every stored timestamp back by the wait the daemon itself asked
for (the job's `not_before`), so an hour and a half of deadline runs in a fraction of a second; the run to the
end goes through the real agent API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

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
from orchestrator.store.tables import Attempt, Instance, Job, JobEvent, PoolBlock
from orchestrator.store.types import UTCDateTime, utcnow
from orchestrator.tokens import agent_token
from tests.fakes.provider import FakeProvider, make_offer

WORK = timedelta(hours=1)
DEADLINE = timedelta(minutes=90)
CHANGEOVER = timedelta(seconds=120)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, providers={}, changeover_seconds=CHANGEOVER.total_seconds()),
                            with_providers=False)
    offers = [make_offer("fake", "f1-a", 0.10), make_offer("fake", "f1-b", 0.12),
              make_offer("fake", "f1-a", 0.50, spot=False)]
    provider = FakeProvider("fake", offers)
    for offer in offers:
        if offer.spot:
            provider.capacity[offer.pool] = 0  # every spot launch raises CapacityError, for ever
    runtime.providers = {"fake": provider}  # type: ignore[dict-item]
    yield runtime
    runtime.close()


def _fast_forward(rt: Runtime, delta: timedelta) -> None:
    """Let `delta` pass: every stored moment moves back by it (pool blocks expire, deadlines come closer)."""
    with transaction(rt.sessions) as s:
        for table in (Job, Attempt, Instance, JobEvent, PoolBlock):
            columns = [c.key for c in table.__table__.columns if isinstance(c.type, UTCDateTime)]
            for row in s.scalars(select(table)):
                for column in columns:
                    value = getattr(row, column)
                    if value is not None:
                        setattr(row, column, value - delta)


def _submit(rt: Runtime) -> str:
    spec = JobSpec(name="tight", run="true", resources={"accelerators": "T4:1"},  # type: ignore[arg-type]
                   deadline=DEADLINE, estimated_runtime=WORK)
    with transaction(rt.sessions) as s:
        return submit(s, spec).id


def _attempts(rt: Runtime, job_id: str) -> list[tuple[bool, str, str]]:
    with transaction(rt.sessions) as s:
        return [(a.spot, a.state, a.end_reason) for a in s.scalars(
            select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.number))]


def _events(rt: Runtime, job_id: str, kind: str) -> list[str]:
    with transaction(rt.sessions) as s:
        return list(s.scalars(select(JobEvent.reason).where(JobEvent.job_id == job_id, JobEvent.kind == kind)
                              .order_by(JobEvent.id)))


def _place_until_on_demand(rt: Runtime, job_id: str) -> timedelta:
    """Reconcile passes at the moments the daemon asks for; returns when the on-demand instance launched."""
    elapsed = timedelta()
    for _ in range(100):
        Reconciler(rt).run_once()
        attempts = _attempts(rt, job_id)
        if attempts and not attempts[-1][0] and attempts[-1][1] == "LAUNCHED":
            return elapsed
        with transaction(rt.sessions) as s:
            job = job_by_id(s, job_id)
            assert job.state == "WAITING_CAPACITY" and job.not_before is not None, (job.state, attempts[-1:])
            wait = max(job.not_before - utcnow(), timedelta(seconds=rt.settings.reconcile_interval_seconds))
        _fast_forward(rt, wait)
        elapsed += wait
    raise AssertionError(f"never went on-demand: {_attempts(rt, job_id)}")


def _run_to_the_end(rt: Runtime, job_id: str) -> Job:
    """The agent on the on-demand instance: reports in after the changeover, exits 0 after the work."""
    api = TestClient(create_app(rt))
    with transaction(rt.sessions) as s:
        attempt_id = s.scalars(select(Attempt.id).where(Attempt.job_id == job_id, Attempt.state == "LAUNCHED")).one()
    agent = {"Authorization": f"Bearer {agent_token(rt.agent_secret, attempt_id)}"}
    _fast_forward(rt, CHANGEOVER)
    assert api.post(f"/v1/agent/attempts/{attempt_id}/heartbeat", headers=agent, json={}).status_code == 200
    _fast_forward(rt, WORK)
    r = api.post(f"/v1/agent/attempts/{attempt_id}/exit", headers=agent, json={"exit_code": 0})
    assert r.status_code == 200, r.text
    with transaction(rt.sessions) as s:
        job = job_by_id(s, job_id)
        s.expunge(job)
        return job


@pytest.mark.parametrize("policy", ["uniform-progress", "spotwise", "greedy"])
def test_spot_that_always_looks_available_but_fails_hits_the_safety_net_in_time(rt: Runtime, policy: str) -> None:
    """Blocks expire before each next pass, so spot looks available every time and every policy keeps trying it:
    only the safety net brings the job to on-demand, and it must do so with a changeover's worth of time left."""
    rt.settings.deadline_policy = policy
    rt.settings.capacity_block_seconds = 1.0
    job_id = _submit(rt)
    at = _place_until_on_demand(rt, job_id)

    attempts = _attempts(rt, job_id)
    spot_failures = [a for a in attempts if a[0]]
    assert len(spot_failures) >= 4 and all(a[1] == "LAUNCH_FAILED" and "CapacityError" in a[2]
                                          for a in spot_failures)
    assert attempts[-1][:2] == (False, "LAUNCHED") and len(attempts) == len(spot_failures) + 1
    assert DEADLINE - at >= WORK + CHANGEOVER, f"on-demand at {at} is too late to finish by {DEADLINE}"
    decisions = _events(rt, job_id, "deadline")
    assert len(decisions) >= 3
    assert all(d.startswith("deadline policy: spot in f1-") for d in decisions[:-1])
    assert decisions[-1].startswith("deadline policy: on-demand: safety net") and "slack" in decisions[-1]

    job = _run_to_the_end(rt, job_id)
    assert job.state == "SUCCEEDED" and job.deadline_at is not None and job.finished_at is not None
    assert job.finished_at <= job.deadline_at


def test_blocked_spot_pools_make_the_policy_bridge_with_on_demand_and_meet_the_deadline(rt: Runtime) -> None:
    """With the usual pool blocks the failed zones read unavailable: the default policy waits while slack allows
    and bridges with on-demand, and every decision is an event that says why."""
    job_id = _submit(rt)
    at = _place_until_on_demand(rt, job_id)
    assert DEADLINE - at >= WORK + CHANGEOVER
    decisions = _events(rt, job_id, "deadline")
    assert decisions[0].startswith("deadline policy: spot in f1-a")  # spot first: cheapest and available
    assert decisions[-1].startswith("deadline policy: on-demand") and "done 0.00 h of 1.00 h" in decisions[-1]
    with transaction(rt.sessions) as s:
        reasons = list(s.scalars(select(JobEvent.reason).where(JobEvent.job_id == job_id, JobEvent.to_state ==
                                                               "PROVISIONING").order_by(JobEvent.id)))
    assert "fake on-demand" in reasons[-1]
    job = _run_to_the_end(rt, job_id)
    assert job.state == "SUCCEEDED" and job.finished_at <= job.deadline_at  # type: ignore[operator]


def test_jobs_without_a_deadline_are_placed_as_before(rt: Runtime) -> None:
    spec = JobSpec(name="free", run="true", resources={"accelerators": "T4:1"})  # type: ignore[arg-type]
    with transaction(rt.sessions) as s:
        job_id = submit(s, spec).id
    Reconciler(rt).run_once()
    assert _events(rt, job_id, "deadline") == []
    assert [a[0] for a in _attempts(rt, job_id)] == [True, True]  # spot: auto tries spot first, as today
