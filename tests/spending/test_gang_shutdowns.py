"""Idle shutdowns and deliberate stops end every node of a gang, not just the instance that triggered them.

Found in review: both paths terminated only the first instance of the attempt and left the other nodes to the
orphan sweep (billed until its next pass).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.spending import policy_store
from orchestrator.spending.idle import record_sample, sweep_idle
from orchestrator.spending.stops import finish_due, request_stop
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Instance, Job
from tests.spending.conftest import T0, make_running


class RecordingProvider:
    """Only `terminate` is reached by these sweeps; it records what the cloud was asked to end."""

    def __init__(self) -> None:
        self.terminated: list[str] = []

    def terminate(self, ids: list[str]) -> None:
        self.terminated.extend(ids)


def _gang(sessions: sessionmaker[Session], nodes: int) -> tuple[str, str, list[str]]:
    job_id, attempt_id, first = make_running(sessions, team="a")
    ids = [first]
    with transaction(sessions) as s:
        head = s.get(Instance, (first, "local"))
        assert head is not None
        s.get(Attempt, attempt_id).nodes = nodes  # type: ignore[union-attr]
        for node in range(1, nodes):
            ids.append(f"{first}-n{node}")
            s.add(Instance(id=ids[-1], provider="local", attempt_id=attempt_id, job_id=job_id, region=head.region,
                           zone=head.zone, instance_type=head.instance_type, spot=True, price_per_hour=1.0,
                           state="running", launched_at=T0, preempted=False, node=node))
    return job_id, attempt_id, ids


def _open(sessions: sessionmaker[Session], attempt_id: str) -> list[str]:
    with transaction(sessions) as s:
        return list(s.scalars(select(Instance.id).where(Instance.attempt_id == attempt_id,
                                                         Instance.ended_at.is_(None))))


def test_idle_shutdown_terminates_every_node_of_the_gang(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        policy_store.apply(s, "idle:\n  - gpu_utilization_below: 5\n    window: 10m\n    grace: 5m\n")
    job_id, attempt_id, ids = _gang(sessions, 3)
    with transaction(sessions) as s:
        for sec in range(0, 1500, 30):
            record_sample(s, attempt_id, "running", 0.0, at=T0 + timedelta(seconds=sec))
    provider = RecordingProvider()
    warned = sweep_idle(sessions, {"local": provider}, now=T0 + timedelta(seconds=900))  # type: ignore[dict-item]
    assert warned.warned and not warned.shut_down
    done = sweep_idle(sessions, {"local": provider}, now=T0 + timedelta(seconds=1201))  # type: ignore[dict-item]
    assert sorted(done.shut_down) == sorted(ids) and sorted(provider.terminated) == sorted(ids)
    assert _open(sessions, attempt_id) == []
    with transaction(sessions) as s:
        assert s.scalar(select(Job.state).where(Job.id == job_id)) == "FAILED"


def test_a_cap_stop_terminates_every_node_of_the_gang(sessions: sessionmaker[Session]) -> None:
    job_id, attempt_id, ids = _gang(sessions, 2)
    with transaction(sessions) as s:
        job, attempt = s.scalar(select(Job).where(Job.id == job_id)), s.get(Attempt, attempt_id)
        assert job is not None and attempt is not None
        assert request_stop(s, job, attempt, cause="cap", name="runtime", reason="max_runtime reached",
                            grace_s=60, now=T0) is not None
    provider = RecordingProvider()
    assert not finish_due(sessions, {"local": provider}, now=T0 + timedelta(seconds=59))  # type: ignore[dict-item]
    done = finish_due(sessions, {"local": provider}, now=T0 + timedelta(seconds=61))  # type: ignore[dict-item]
    assert [f.job_id for f in done] == [job_id] and sorted(i for _, i in done[0].instances) == sorted(ids)
    assert sorted(provider.terminated) == sorted(ids) and _open(sessions, attempt_id) == []
