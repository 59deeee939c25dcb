"""Two replicas racing on one PostgreSQL and one local cloud never make two instances for one attempt.

The leases make the reconcile loop run on one replica; these tests take the leases away on purpose
(both replicas run full passes at the same time, as a partitioned old leader finishing its pass
would) and check the two lower guards: `FOR UPDATE SKIP LOCKED` claims and the attempt's
idempotency key on every launch call.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from orchestrator.config import Settings
from orchestrator.daemon import ensure_admin_token
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import ApiToken, Attempt, Instance
from providers.base import TAG_ATTEMPT
from providers.local import LocalProvider, processes
from tests.replicas.cluster import share_keys


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Runtime, Runtime]]:
    shared = {"local": {"state_dir": str(tmp_path / "cloud")}}
    for i in (1, 2):
        share_keys(tmp_path / f"r{i}", tmp_path / "shared-keys")
    pair = tuple(build_runtime(Settings(home=tmp_path / f"r{i}", database_url=postgres_url, providers=shared,
                                        public_url="http://127.0.0.1:9")) for i in (1, 2))
    assert pair[0].cluster_id == pair[1].cluster_id
    yield pair  # type: ignore[misc]
    cloud = pair[0].providers["local"]
    assert isinstance(cloud, LocalProvider)
    cloud.terminate([r.id for r in cloud.records.all()])
    for pid in processes.cluster_pids(pair[0].cluster_id):  # never leave a process behind
        os.kill(pid, 9)
    for rt in pair:
        rt.close()


def _together(*fns: Callable[[], object]) -> list[BaseException]:
    """Run the callables at the same instant in threads; return what they raised."""
    barrier = threading.Barrier(len(fns))
    errors: list[BaseException] = []

    def run(fn: Callable[[], object]) -> None:
        barrier.wait()
        try:
            fn()
        except Exception as exc:  # a lost race may raise (e.g. a duplicate row); the cloud is what counts
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_overlapping_passes_make_one_instance_per_attempt(replicas: tuple[Runtime, Runtime]) -> None:
    a, b = replicas
    with transaction(a.sessions) as s:
        for i in range(12):
            submit(s, JobSpec(name=f"t{i}", run="sleep 60", resources={"accelerators": "T4:1"}))
    ra, rb = Reconciler(a), Reconciler(b)
    for _ in range(3):
        _together(ra.run_once, rb.run_once)
    cloud = a.providers["local"]
    assert isinstance(cloud, LocalProvider)
    per_attempt = Counter(r.tags.get(TAG_ATTEMPT) for r in cloud.records.all())
    with transaction(a.sessions) as s:
        attempts = list(s.scalars(select(Attempt)))
        rows = Counter(s.scalars(select(Instance.attempt_id)))
        per_job = Counter(at.job_id for at in attempts)
    assert len(attempts) == 12 and set(per_job.values()) == {1}, per_job  # SKIP LOCKED: one attempt per job
    assert set(per_attempt.values()) == {1} and len(per_attempt) == 12, per_attempt
    assert set(rows.values()) == {1}


def test_the_same_attempt_launched_by_both_replicas_at_once_is_one_instance(
        replicas: tuple[Runtime, Runtime]) -> None:
    a, b = replicas
    with transaction(a.sessions) as s:
        submit(s, JobSpec(name="once", run="sleep 60", resources={"accelerators": "T4:1"}))
    ra, rb = Reconciler(a), Reconciler(b)
    index, blocks, priors = ra.launcher._view()
    with transaction(a.sessions) as s:  # record the attempt as the leader does, but launch from both
        from orchestrator.jobs import transitions as T
        from orchestrator.jobs.attempts import create_attempt
        from orchestrator.jobs.queue import claim_runnable
        from orchestrator.provisioning.placement_request import placement_request_for
        job = claim_runnable(s, 1)[0]
        offer = index.rank(placement_request_for(JobSpec.model_validate(job.spec)), blocks, priors=priors)[0].offer
        attempt = create_attempt(s, job, offer)
        T.start_provisioning(s, job, attempt.id, "test")
        attempt_id = attempt.id
    for _ in range(3):
        _together(lambda: ra.launcher.launch(attempt_id), lambda: rb.launcher.launch(attempt_id))
    cloud = a.providers["local"]
    assert isinstance(cloud, LocalProvider)
    assert [r.tags.get(TAG_ATTEMPT) for r in cloud.records.all()] == [attempt_id]
    with transaction(a.sessions) as s:
        assert s.scalar(select(func.count()).select_from(Instance)) == 1
        assert s.get(Attempt, attempt_id).state == "LAUNCHED"  # type: ignore[union-attr]


def test_replicas_starting_together_bootstrap_one_configured_admin_token(tmp_path: Path, postgres_url: str) -> None:
    """Every replica of a cluster starting at once inserts the configured admin token if it is missing; without the
    bootstrap lock the losers hit the unique token hash and their daemons exit 1 (seen in CI)."""
    settings = [Settings(home=tmp_path / f"r{i}", database_url=postgres_url, admin_token="sw-admin-bootstrap-race",
                         public_url="http://127.0.0.1:9") for i in range(4)]
    for s in settings:
        share_keys(s.home, tmp_path / "shared-keys")
    runtimes = [build_runtime(s, with_providers=False) for s in settings]
    try:
        for _ in range(5):  # several rounds: one lucky interleaving proves little
            with transaction(runtimes[0].sessions) as s:
                s.execute(delete(ApiToken))
            errors = _together(*(functools.partial(ensure_admin_token, rt) for rt in runtimes))
            assert errors == []
            with transaction(runtimes[0].sessions) as s:
                assert s.scalar(select(func.count()).select_from(ApiToken)) == 1
    finally:
        for rt in runtimes:
            rt.close()
