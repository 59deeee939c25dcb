"""Out-of-VM notices: the reconcile loop records them and uses them to call a vanished instance a preemption.

Real Reconciler on a real SQLite file; a scriptable fake cloud (which, like some real ones, describes a reclaimed
instance as merely gone) and the local provider (which reports a pending `chaos preempt` as a notice).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import job_by_id, submit
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, JobEvent, PoolBlock
from orchestrator.store.types import utcnow
from providers.base import InstanceState, Interruption
from providers.errors import ProviderError
from providers.local import LocalProvider
from tests.fakes.provider import FakeProvider, make_offer


@dataclass
class NoticingFake(FakeProvider):
    """The fake cloud plus an out-of-VM notice feed (`notices`, reported on every call, as a queue would redeliver)."""

    notices: list[Interruption] = field(default_factory=list)
    notice_error: ProviderError | None = None

    def interruption_events(self) -> list[Interruption]:
        if self.notice_error is not None:
            raise self.notice_error
        return list(self.notices)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, providers={}), with_providers=False)
    runtime.providers = {"fake": NoticingFake("fake", [make_offer("fake", "f1-a", 0.1)])}  # type: ignore[dict-item]
    yield runtime
    runtime.close()


def _launched(rt: Runtime) -> tuple[str, str, NoticingFake]:
    with transaction(rt.sessions) as s:
        job_id = submit(s, JobSpec(name="t", run="true", resources={"accelerators": "T4:1"})).id  # type: ignore[arg-type]
    Reconciler(rt).run_once()
    fake: NoticingFake = rt.providers["fake"]  # type: ignore[assignment]
    (instance_id,) = fake.instances
    return job_id, instance_id, fake


def _vanish(fake: NoticingFake, instance_id: str) -> None:
    """The cloud reclaims the instance and reports it only as terminated (no preempted flag)."""
    fake.instances[instance_id] = replace(fake.instances[instance_id], state=InstanceState.TERMINATED)


def _first_attempt(rt: Runtime, job_id: str) -> tuple[str, str]:
    with transaction(rt.sessions) as s:
        first = s.scalars(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.number)).first()
        assert first is not None
        return first.state, first.end_reason


def test_a_notice_is_recorded_once_and_makes_the_vanished_instance_a_preemption(rt: Runtime) -> None:
    job_id, instance_id, fake = _launched(rt)
    now = utcnow()
    fake.notices = [Interruption(instance_id, "preemption", now, now + timedelta(minutes=2)),
                    Interruption("someone-elses", "preemption", now)]
    Reconciler(rt).run_once()
    Reconciler(rt).run_once()  # the feed repeats the notice: still one event
    with transaction(rt.sessions) as s:
        notices = list(s.scalars(select(JobEvent).where(JobEvent.kind == "notice")))
        assert [(e.job_id, e.attempt_id) for e in notices] == [(job_id, f"{job_id}-1")]
        assert notices[0].reason.startswith(f"preemption notice from fake for instance {instance_id}, reclaimed at")
        assert job_by_id(s, job_id).state == "PROVISIONING"  # a notice alone ends nothing
    _vanish(fake, instance_id)
    fake.notices = []
    Reconciler(rt).run_once()
    state, reason = _first_attempt(rt, job_id)
    assert (state, reason) == ("PREEMPTED", "spot instance preempted")
    with transaction(rt.sessions) as s:
        assert job_by_id(s, job_id).restarts == 1
        assert s.scalar(select(PoolBlock.key)) == "pool|fake|f1|f1-a|gpu.small|spot"  # the reclaimed pool is avoided


def test_without_a_notice_a_vanished_instance_is_lost_as_before(rt: Runtime) -> None:
    job_id, instance_id, fake = _launched(rt)
    fake.notices = [Interruption(instance_id, "rebalance", utcnow())]  # a risk warning, not a reclaim
    Reconciler(rt).run_once()
    _vanish(fake, instance_id)
    Reconciler(rt).run_once()
    state, reason = _first_attempt(rt, job_id)
    assert state == "LOST" and "is gone" in reason
    with transaction(rt.sessions) as s:
        kinds = [e.reason.split(" from ")[0] for e in s.scalars(select(JobEvent).where(JobEvent.kind == "notice"))]
    assert kinds == ["rebalance recommendation"]


def test_a_failing_notice_feed_does_not_stop_the_pass(rt: Runtime) -> None:
    fake: NoticingFake = rt.providers["fake"]  # type: ignore[assignment]
    fake.notice_error = ProviderError("queue unreachable", provider="fake")
    job_id, _, _ = _launched(rt)
    assert _first_attempt(rt, job_id)[0] == "LAUNCHED"


def test_the_local_providers_pending_preemption_is_recorded_as_a_notice(tmp_path: Path) -> None:
    runtime = build_runtime(Settings(home=tmp_path, providers={}), with_providers=False)
    local = LocalProvider(tmp_path / "local")
    runtime.providers = {"local": local}
    try:
        with transaction(runtime.sessions) as s:
            spec = JobSpec(name="t", run="sleep 30", resources={"accelerators": "T4:1", "spot": True})  # type: ignore[arg-type]
            job_id = submit(s, spec).id
        Reconciler(runtime).run_once()
        (info,) = local.list_managed(runtime.cluster_id)
        local.preempt(info.id, grace_seconds=30)
        Reconciler(runtime).run_once()
        with transaction(runtime.sessions) as s:
            reasons = list(s.scalars(select(JobEvent.reason).where(JobEvent.job_id == job_id,
                                                                   JobEvent.kind == "notice")))
        assert len(reasons) == 1 and reasons[0].startswith(f"preemption notice from local for instance {info.id}")
    finally:
        local.terminate([i.id for i in local.list_managed(runtime.cluster_id)])
        runtime.close()
