"""Three `spotwise serve` replicas on the real PostgreSQL share one local cloud and run a batch of jobs.

Mid-run the replica leading the reconcile loop is killed with SIGKILL and another is restarted
(SIGTERM, start). Afterwards: every job is final, no attempt has more instances than its nodes, no orphan is left,
each alert reached the webhook once, and the ledger equals the per-second cost of every instance.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from orchestrator.spending.ledger import whole_seconds_until
from orchestrator.store.tables import Alert, AlertDelivery, Attempt, Instance, Job, LedgerEntry
from providers.base import TAG_ATTEMPT, TAG_CLUSTER
from providers.local import processes
from providers.local.records import RecordStore
from tests.replicas.cluster import Proxy, Replica, Webhook

FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
TOKEN = "sw-test-replicas-admin-token"
POLICY = """budgets:
  - name: tiny
    scope: global
    period: total
    limit_usd: 0.0002
    forecast_alert: false
    thresholds: [{percent: 50, action: alert}, {percent: 100, action: alert}]
"""


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str) -> Iterator[dict[str, Any]]:
    hook = Webhook()
    replicas: list[Replica] = []
    proxy = Proxy(replicas)
    config = {"database_url": postgres_url, "admin_token": TOKEN, "public_url": proxy.url,
              "providers": {"local": {"state_dir": str(tmp_path / "cloud")}},
              "heartbeat_interval_seconds": 1, "ledger_interval_seconds": 1, "budget_interval_seconds": 1,
              "alert_interval_seconds": 0.5, "alert_base_backoff_seconds": 0.5,
              "alert_sinks": {"hook": {"type": "webhook", "url": hook.url, "secret": "s3cret"}}}
    replicas.extend(Replica(home=tmp_path / f"replica{i}", config=config) for i in range(3))
    try:
        for r in replicas:
            r.start(wait=False)  # all three migrate and start at once
        for r in replicas:
            r.wait_healthy()
        yield {"replicas": replicas, "proxy": proxy, "hook": hook, "db": postgres_url, "cloud": tmp_path / "cloud"}
    finally:  # also when a replica fails to start: survivors left running would write into later tests' database
        cluster_id = None
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            if any(r.alive() for r in replicas):
                cluster_id = httpx.get(proxy.url + "/healthz", timeout=10).json()["cluster"]
        for r in replicas:
            r.stop()
        proxy.close()
        hook.close()
        if cluster_id:
            for pid in processes.cluster_pids(cluster_id):  # never leave a process behind, even on failure
                os.kill(pid, 9)


def _api(url: str, method: str, path: str, **kw: Any) -> Any:
    for _ in range(20):  # a request in flight on a killed replica is retried, as any client would
        try:
            r = httpx.request(method, url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30, **kw)
            r.raise_for_status()
            return r.json()
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500:
                raise
            time.sleep(0.2)
    raise AssertionError(f"{method} {path} kept failing")


def _states(db: sessionmaker[Any]) -> Counter[str]:
    with db() as s:
        return Counter(dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all()))


def _wait(what: str, cond: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def run_batch(cluster: dict[str, Any], jobs: int, timeout: float) -> dict[str, float]:
    replicas: list[Replica] = cluster["replicas"]
    url = cluster["proxy"].url
    engine = create_engine(cluster["db"])
    db = sessionmaker(engine)
    started = time.monotonic()
    _api(url, "POST", "/v1/policies", json={"text": POLICY})
    for i in range(jobs):
        _api(url, "POST", "/v1/jobs", json={"name": f"b{i}", "run": f"sleep {1 + i % 3}", "team": "batch",
                                            "resources": {"accelerators": "T4:1", "spot": True}})
    _wait("a third of the jobs to finish", lambda: sum(_states(db)[s] for s in FINAL) >= jobs // 3, timeout)
    leader = next(r for r in replicas if "reconcile" in r.leads())
    leader.kill9()  # mid-run, the replica doing the placing dies without a word
    killed_at = time.monotonic()
    survivors = [r for r in replicas if r is not leader]
    _wait("another replica to take the reconcile lease", lambda: any("reconcile" in r.leads() for r in survivors),
          30)
    handover = time.monotonic() - killed_at
    survivors[0].stop()  # and another is restarted
    survivors[0].start()
    _wait("every job to reach a final state", lambda: sum(_states(db)[s] for s in FINAL) == jobs, timeout)
    states = _states(db)
    assert states == Counter({"SUCCEEDED": jobs}), states

    cluster_id = httpx.get(url + "/healthz", timeout=10).json()["cluster"]
    _wait("no instance process left", lambda: not processes.cluster_pids(cluster_id), 30)
    with db() as s:
        _wait("every instance row closed", lambda: not s.scalar(
            select(func.count()).select_from(Instance).where(Instance.ended_at.is_(None))), 30)
    records = [r for r in RecordStore(cluster["cloud"]).all() if r.tags.get(TAG_CLUSTER) == cluster_id]
    per_attempt = Counter(r.tags[TAG_ATTEMPT] for r in records)
    with db() as s:
        nodes = {a: n for a, n in s.execute(select(Attempt.id, Attempt.nodes))}  # a gang attempt has N instances
        attempt_ids = set(nodes)
        rows = Counter(s.scalars(select(Instance.attempt_id)))
    assert all(n <= nodes.get(a, 1) for a, n in per_attempt.items()), "an attempt got more instances than nodes"
    assert all(n <= nodes.get(a, 1) for a, n in rows.items()) and set(per_attempt) <= attempt_ids
    assert set(per_attempt) == set(rows)  # every cloud instance is known: no orphan

    def ledger_caught_up() -> bool:
        with db() as s:
            instances = list(s.scalars(select(Instance)))
            by_instance = dict(s.execute(select(LedgerEntry.instance_id, func.sum(LedgerEntry.cost_usd))
                                         .group_by(LedgerEntry.instance_id)).all())
        expected = {r.id: r.price_per_hour * (whole_seconds_until(r.launched_at, r.ended_at)
                                              - r.launched_at).total_seconds() / 3600 for r in instances}
        return all(abs(by_instance.get(k, 0.0) - v) < 1e-9 for k, v in expected.items())

    _wait("the ledger to equal every instance's per-second cost", ledger_caught_up, 30)

    hook: Webhook = cluster["hook"]
    with db() as s:
        alerts = set(s.scalars(select(Alert.id)))
        _wait("every alert delivered", lambda: not s.scalar(select(func.count()).select_from(AlertDelivery).where(
            AlertDelivery.state != "delivered")) and s.scalar(select(func.count()).select_from(AlertDelivery))
            == len(alerts), 30)
    assert len(alerts) >= 2  # both budget thresholds were crossed
    assert set(hook.received) == alerts and set(hook.received.values()) == {1}, hook.received
    live = [r for r in replicas if r.alive()]
    leaders = Counter(loop for r in live for loop in r.leads())
    assert all(leaders[loop] == 1 for loop in ("reconcile", "ledger", "budgets", "alerts")), leaders
    metrics = httpx.get(url + "/metrics", timeout=10).text
    assert "spotwise_alerts_pending 0.0" in metrics
    ratio = re.search(r'^spotwise_budget_utilisation_ratio\{budget="tiny",scope="global"\} (\S+)$', metrics, re.M)
    assert ratio and float(ratio.group(1)) >= 1.0, metrics
    assert re.search(r'^spotwise_loop_last_duration_seconds\{loop="reconcile"\} ', metrics, re.M)
    assert "spotwise_spend_rate_usd_per_hour 0.0" in metrics  # nothing left running
    engine.dispose()
    return {"jobs": jobs, "seconds": time.monotonic() - started, "handover_s": handover}


def test_three_replicas_survive_sigkill_and_restart(cluster: dict[str, Any]) -> None:
    figures = run_batch(cluster, jobs=30, timeout=150)
    print(f"\n3 replicas, {figures['jobs']:.0f} jobs: {figures['seconds']:.1f}s, "
          f"reconcile lease handed over {figures['handover_s']:.2f}s after SIGKILL")


@pytest.mark.slow
def test_three_replicas_200_jobs(cluster: dict[str, Any]) -> None:
    figures = run_batch(cluster, jobs=200, timeout=900)
    print(f"\n3 replicas, {figures['jobs']:.0f} jobs: {figures['seconds']:.1f}s, "
          f"reconcile lease handed over {figures['handover_s']:.2f}s after SIGKILL")
