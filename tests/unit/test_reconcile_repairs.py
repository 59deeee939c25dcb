"""The reconcile loop repairs every crash window, with the real local provider and a real SQLite file.

A crash is a BaseException escaping from inside the provider call (as a kill -9 would stop the
process there); a fresh Reconciler plays the restarted daemon.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.provisioning import outage
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Instance, Job, Meta
from orchestrator.store.types import utcnow
from providers.base import AgentBootstrap, LaunchSpec, OfferQuery
from providers.local import LocalProvider


class Crash(BaseException):
    """Stands for the daemon dying at this line."""


class CrashingLocal(LocalProvider):
    """The local cloud, with the daemon dying before or after the launch call reaches it."""

    crash: str = ""

    def launch(self, spec: LaunchSpec):  # type: ignore[no-untyped-def]
        if self.crash == "before":
            raise Crash
        info = super().launch(spec)
        if self.crash == "after":
            raise Crash
        return info


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, providers={}))
    provider = CrashingLocal(tmp_path / "local")
    runtime.providers = {"local": provider}
    yield runtime
    provider.terminate([i.id for i in provider.list_managed(runtime.cluster_id)])
    runtime.close()


def _submit(rt: Runtime) -> str:
    with transaction(rt.sessions) as s:
        return submit(s, JobSpec(name="t", run="sleep 30", resources={"accelerators": "T4:1"})).id


def _counts(rt: Runtime) -> tuple[int, int, list[str]]:
    with transaction(rt.sessions) as s:
        attempts = s.scalar(select(func.count()).select_from(Attempt)) or 0
        instances = s.scalar(select(func.count()).select_from(Instance)) or 0
        states = list(s.scalars(select(Attempt.state).order_by(Attempt.number)))
    return attempts, instances, states


@pytest.mark.parametrize("when", ["before", "after"])
def test_crash_around_the_launch_call_makes_exactly_one_instance(rt: Runtime, when: str) -> None:
    _submit(rt)
    provider = rt.providers["local"]
    assert isinstance(provider, CrashingLocal)
    provider.crash = when
    with pytest.raises(Crash):
        Reconciler(rt).run_once()
    assert _counts(rt)[2] == ["LAUNCHING"]  # the attempt was recorded before the call
    provider.crash = ""
    Reconciler(rt).run_once()  # the restarted daemon
    attempts, instances, states = _counts(rt)
    assert (attempts, instances, states) == (1, 1, ["LAUNCHED"])
    assert len(provider.list_managed(rt.cluster_id)) == 1


def test_a_tagged_instance_without_an_attempt_is_an_orphan(rt: Runtime) -> None:
    provider = rt.providers["local"]
    offer = provider.list_offers(OfferQuery())[0]
    ghost = provider.launch(LaunchSpec(
        idempotency_key="ghost", cluster_id=rt.cluster_id, job_id="j-none", attempt_id="j-none-1", offer=offer,
        bootstrap=AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id="j-none-1", token="x")))
    other_cluster = provider.launch(LaunchSpec(
        idempotency_key="theirs", cluster_id="someone-else", job_id="j-x", attempt_id="j-x-1", offer=offer,
        bootstrap=AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id="j-x-1", token="x")))
    report = Reconciler(rt).run_once()
    assert report.orphans_terminated == 1
    assert provider.list_managed(rt.cluster_id) == []
    assert [i.id for i in provider.list_managed("someone-else")] == [other_cluster.id]  # not ours: untouched
    provider.terminate([other_cluster.id, ghost.id])


def test_a_vanished_instance_requeues_the_job_on_a_new_attempt(rt: Runtime) -> None:
    job_id = _submit(rt)
    provider = rt.providers["local"]
    Reconciler(rt).run_once()
    [info] = provider.list_managed(rt.cluster_id)
    provider.terminate([info.id])  # gone behind the daemon's back
    Reconciler(rt).run_once()
    with transaction(rt.sessions) as s:
        job = s.scalar(select(Job).where(Job.id == job_id))
        assert job is not None and job.restarts == 1
    Reconciler(rt).run_once()
    attempts, _, states = _counts(rt)
    assert attempts == 2 and states[0] == "LOST" and states[1] in ("LAUNCHING", "LAUNCHED")


def _running_with_stale_heartbeat(rt: Runtime, age_s: float) -> str:
    """A job whose agent last reported `age_s` ago while its instance is still up: (attempt id)."""
    _submit(rt)
    Reconciler(rt).run_once()
    with transaction(rt.sessions) as s:
        attempt = s.scalar(select(Attempt))
        assert attempt is not None
        attempt.state = "RUNNING"
        attempt.last_heartbeat_at = utcnow() - timedelta(seconds=age_s)
        return attempt.id


def _attempt_state(rt: Runtime, attempt_id: str) -> str:
    with transaction(rt.sessions) as s:
        return s.get(Attempt, attempt_id).state  # type: ignore[union-attr]


def test_silence_while_the_daemon_was_down_is_not_the_agents_fault(rt: Runtime) -> None:
    timeout = rt.settings.heartbeat_timeout_seconds
    attempt_id = _running_with_stale_heartbeat(rt, timeout + 60)
    with transaction(rt.sessions) as s:  # the previous pass ended long ago: the daemon was down since
        s.get(Meta, outage.LAST_PASS_KEY).value = (utcnow() - timedelta(seconds=timeout + 120)).isoformat()  # type: ignore[union-attr]
    Reconciler(rt).run_once()
    assert _attempt_state(rt, attempt_id) == "RUNNING"  # the agent gets a full timeout to reach the daemon again
    Reconciler(rt).run_once()  # a restart during that grace keeps it (it is in the store)
    assert _attempt_state(rt, attempt_id) == "RUNNING"
    with transaction(rt.sessions) as s:  # the grace ran out and the agent still said nothing
        s.get(Meta, outage.SERVING_SINCE_KEY).value = (utcnow() - timedelta(seconds=timeout + 1)).isoformat()  # type: ignore[union-attr]
    Reconciler(rt).run_once()
    assert _attempt_state(rt, attempt_id) == "LOST"


def test_silence_while_the_daemon_was_serving_ends_the_attempt(rt: Runtime) -> None:
    attempt_id = _running_with_stale_heartbeat(rt, rt.settings.heartbeat_timeout_seconds + 60)
    Reconciler(rt).run_once()
    assert _attempt_state(rt, attempt_id) == "LOST"
