"""Failover through the real Reconciler on a real SQLite file, with two scriptable fake clouds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import job_by_id, submit
from orchestrator.provisioning.gang import launch_gang
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, JobEvent, PoolBlock
from orchestrator.store.types import utcnow
from providers.base import AgentBootstrap, LaunchSpec
from providers.errors import AuthError, CapacityError, InvalidRequest, QuotaError
from tests.fakes.provider import FakeProvider, make_offer


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, providers={}), with_providers=False)
    cheap = FakeProvider("cheap", [make_offer("cheap", "c1-a", 0.10), make_offer("cheap", "c1-b", 0.12),
                                   make_offer("cheap", "c1-a", 0.50, spot=False)])
    dear = FakeProvider("dear", [make_offer("dear", "d1-a", 0.30), make_offer("dear", "d1-a", 0.90, spot=False)])
    runtime.providers = {"cheap": cheap, "dear": dear}  # type: ignore[dict-item]
    yield runtime
    runtime.close()


def _submit(rt: Runtime, **resources: object) -> str:
    spec = JobSpec(name="t", run="true", resources={"accelerators": "T4:1", **resources})  # type: ignore[arg-type]
    with transaction(rt.sessions) as s:
        return submit(s, spec).id


def _state(rt: Runtime, job_id: str) -> tuple[str, list[Attempt], list[str]]:
    with transaction(rt.sessions) as s:
        job = job_by_id(s, job_id)
        attempts = list(s.scalars(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.number)))
        events = [e.reason for e in s.scalars(select(JobEvent).where(JobEvent.job_id == job_id)
                                              .order_by(JobEvent.id))]
        return job.state, attempts, events


def test_capacity_error_fails_over_to_next_cheapest_in_the_same_pass(rt: Runtime) -> None:
    cheap: FakeProvider = rt.providers["cheap"]  # type: ignore[assignment]
    cheap.fail[("cheap", "c1", "c1-a", "gpu.small", True)] = [CapacityError("no T4 left", provider="cheap")]
    cheap.capacity[("cheap", "c1", "c1-b", "gpu.small", True)] = 0
    job_id = _submit(rt, spot=True)
    report = Reconciler(rt).run_once()
    state, attempts, events = _state(rt, job_id)
    assert report.launched == 1 and state == "PROVISIONING"
    assert [(a.provider, a.zone, a.state) for a in attempts] == [
        ("cheap", "c1-a", "LAUNCH_FAILED"), ("cheap", "c1-b", "LAUNCH_FAILED"), ("dear", "d1-a", "LAUNCHED")]
    assert any("CapacityError on cheap spot gpu.small in c1-a: cheap: no T4 left" in e for e in events)
    assert any(e.startswith("failover: dear spot") for e in events)
    with transaction(rt.sessions) as s:
        assert {b.key for b in s.scalars(select(PoolBlock))} == {
            "pool|cheap|c1|c1-a|gpu.small|spot", "pool|cheap|c1|c1-b|gpu.small|spot"}
    # A new job in the next pass skips the blocked pools straight away (blocks outlive the Launcher).
    second = _submit(rt, spot=True)
    Reconciler(rt).run_once()
    assert [a.provider for a in _state(rt, second)[1]] == ["dear"]


def test_nothing_launchable_waits_with_backoff_and_says_what_was_tried(rt: Runtime) -> None:
    rt.settings.placement_max_launch_attempts = 2
    for name in ("cheap", "dear"):
        provider: FakeProvider = rt.providers[name]  # type: ignore[assignment]
        for offer in provider.offers:
            provider.capacity[offer.pool] = 0
    job_id = _submit(rt, spot=True)
    Reconciler(rt).run_once()
    state, attempts, events = _state(rt, job_id)
    assert state == "WAITING_CAPACITY" and len(attempts) == 2
    assert "tried 2 offer(s) in this pass, none launched" in events[-1]
    with transaction(rt.sessions) as s:
        assert job_by_id(s, job_id).not_before > utcnow()


def test_quota_blocks_the_region_auth_the_provider(rt: Runtime) -> None:
    cheap: FakeProvider = rt.providers["cheap"]  # type: ignore[assignment]
    cheap.fail[("cheap", "c1", "c1-a", "gpu.small", True)] = [QuotaError("GPU quota 0", provider="cheap")]
    job_id = _submit(rt, spot=True)
    Reconciler(rt).run_once()
    _, attempts, events = _state(rt, job_id)
    assert [a.zone for a in attempts] == ["c1-a", "d1-a"]  # c-1b is in the blocked region: skipped
    assert any("region blocked for 1800s" in e for e in events)
    dear: FakeProvider = rt.providers["dear"]  # type: ignore[assignment]
    dear.fail[("dear", "d1", "d1-a", "gpu.small", True)] = [AuthError("expired key", provider="dear")]
    other = _submit(rt, spot=True)
    Reconciler(rt).run_once()
    state, attempts, events = _state(rt, other)
    assert state == "WAITING_CAPACITY" and any("provider blocked for 3600s" in e for e in events)


def test_invalid_request_fails_the_job_with_the_clouds_message(rt: Runtime) -> None:
    cheap: FakeProvider = rt.providers["cheap"]  # type: ignore[assignment]
    cheap.fail[("cheap", "c1", "c1-a", "gpu.small", True)] = [InvalidRequest("image not found", provider="cheap")]
    job_id = _submit(rt, spot=True)
    Reconciler(rt).run_once()
    state, attempts, events = _state(rt, job_id)
    assert state == "FAILED" and len(attempts) == 1 and "image not found" in events[-1]


def test_spot_auto_takes_on_demand_only_after_the_wait(rt: Runtime) -> None:
    for name in ("cheap", "dear"):
        provider: FakeProvider = rt.providers[name]  # type: ignore[assignment]
        provider.offers = [o for o in provider.offers if not o.spot]
    job_id = _submit(rt)  # spot: auto
    Reconciler(rt).run_once()
    state, _, events = _state(rt, job_id)
    assert state == "WAITING_CAPACITY" and "spot: auto takes on-demand after 900s" in events[-1]
    with transaction(rt.sessions) as s:
        job = job_by_id(s, job_id)
        job.submitted_at = utcnow() - timedelta(seconds=901)
        job.not_before = None
    Reconciler(rt).run_once()
    state, attempts, _ = _state(rt, job_id)
    assert state == "PROVISIONING" and attempts[-1].spot is False and attempts[-1].provider == "cheap"


def test_gang_launches_all_or_releases_the_partial_gang() -> None:
    offer = make_offer("cheap", "c1-a", 1.0, gpu="H100", count=8)
    provider = FakeProvider("cheap", [offer], capacity={offer.pool: 2})
    spec = LaunchSpec(idempotency_key="k", cluster_id="c", job_id="j", attempt_id="a", offer=offer,
                      bootstrap=AgentBootstrap(api_url="http://x", attempt_id="a", token="t"))
    with pytest.raises(CapacityError):
        launch_gang(provider, spec, 3)
    assert all(i.state.is_gone for i in provider.instances.values()) and len(provider.instances) == 2
    provider.capacity[offer.pool] = 3
    again = FakeProvider("cheap", [offer], capacity={offer.pool: 3})
    nodes = launch_gang(again, spec, 3)
    assert len({n.id for n in nodes}) == 3 and launch_gang(again, spec, 3) == nodes  # idempotent
