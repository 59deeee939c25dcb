"""Caps, checkpoint-first stops and the placement alerts, through the real Reconciler, API and sweeps.

Two scriptable fake clouds stand in for providers; everything else (store, launcher, budget and
cap sweeps, the agent routes of the API) is the real code on a real SQLite file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from orchestrator.api import create_app
from orchestrator.catalog.pricing import refresh_due
from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import job_by_id, submit
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.spending import ledger, policy_store
from orchestrator.spending.budget import BLOCKS_KEY, sweep_budgets
from orchestrator.spending.caps import sweep_caps
from orchestrator.spending.stops import ACTION_CHECKPOINT_AND_STOP, finish_due
from orchestrator.store.db import transaction
from orchestrator.store.tables import Alert, Attempt, Instance, Meta, StopRequest
from orchestrator.store.types import utcnow
from orchestrator.tokens import agent_token
from policies.caps import JobLimits, breach, price_limit, strictest
from providers.base import InstanceState
from providers.errors import AuthError, ProviderError, QuotaError
from tests.fakes.provider import FakeProvider, make_offer


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, providers={}), with_providers=False)
    cheap = FakeProvider("cheap", [make_offer("cheap", "c1-a", 0.10)])
    dear = FakeProvider("dear", [make_offer("dear", "d1-a", 0.30)])
    runtime.providers = {"cheap": cheap, "dear": dear}  # type: ignore[dict-item]
    yield runtime
    runtime.close()


def _submit(rt: Runtime, team: str = "a") -> str:
    resources = {"accelerators": "T4:1", "spot": True}
    spec = JobSpec(name="t", run="true", team=team, resources=resources)  # type: ignore[arg-type]
    with transaction(rt.sessions) as s:
        return submit(s, spec).id


def _policy(rt: Runtime, text: str) -> None:
    with transaction(rt.sessions) as s:
        policy_store.apply(s, text)


def _job(rt: Runtime, job_id: str) -> tuple[str, str, list[Attempt]]:
    with transaction(rt.sessions) as s:
        job = job_by_id(s, job_id)
        attempts = list(s.scalars(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.number)))
        return job.state, job.reason, attempts


def _alerts(rt: Runtime) -> list[Alert]:
    with transaction(rt.sessions) as s:
        return list(s.scalars(select(Alert).order_by(Alert.created_at)))


def _running(rt: Runtime, api: TestClient, team: str = "a") -> tuple[str, str]:
    """Launch a job on the cheap cloud and let its agent report in: (job id, attempt id)."""
    job_id = _submit(rt, team)
    Reconciler(rt).run_once()
    attempt = _job(rt, job_id)[2][-1]
    answer = _heartbeat(rt, api, attempt.id)
    assert answer == {"action": "continue"} and _job(rt, job_id)[0] == "RUNNING"
    return job_id, attempt.id


def _heartbeat(rt: Runtime, api: TestClient, attempt_id: str) -> dict[str, object]:
    r = api.post(f"/v1/agent/attempts/{attempt_id}/heartbeat", json={"phase": "running"},
                 headers={"Authorization": f"Bearer {agent_token(rt.agent_secret, attempt_id)}"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_strictest_cap_wins_and_cost_cap_looks_ahead() -> None:
    limits = strictest([(2.0, None, 50.0), (1.0, 3600.0, None), (None, 7200.0, 80.0)])
    assert limits == JobLimits(1.0, 3600.0, 50.0)
    assert price_limit(limits, 0.5) == 0.5 and price_limit(limits, None) == 1.0
    assert price_limit(JobLimits(), None) is None
    kw = {"price_per_hour": 3.6, "horizon_s": 100.0}  # 100 s at $3.6/h commits $0.10
    assert breach(JobLimits(max_cost_usd=1.0), runtime_s=10, spent_usd=0.89, **kw) is None  # type: ignore[arg-type]
    hit = breach(JobLimits(max_cost_usd=1.0), runtime_s=10, spent_usd=0.90, **kw)  # type: ignore[arg-type]
    assert hit is not None and hit.field == "max_cost_per_job"
    hit = breach(JobLimits(max_runtime_s=60, max_cost_usd=1.0), runtime_s=60, spent_usd=5, **kw)  # type: ignore[arg-type]
    assert hit is not None and hit.field == "max_runtime" and "60s" in hit.reason


def test_price_cap_filters_placement_and_budget_block_parks_new_jobs(rt: Runtime) -> None:
    _policy(rt, "caps:\n  - scope: team:a\n    max_price_per_hour: 0.05\n"
                "  - scope: team:b\n    max_price_per_hour: 0.2\n")
    capped, fits = _submit(rt, "a"), _submit(rt, "b")
    Reconciler(rt).run_once()
    state, reason, attempts = _job(rt, capped)
    assert state == "WAITING_CAPACITY" and not attempts and "at or under $0.05/h" in reason
    state, _, attempts = _job(rt, fits)
    assert state == "PROVISIONING" and [a.provider for a in attempts] == ["cheap"]  # 0.10 <= 0.2; dear 0.30 is not
    with transaction(rt.sessions) as s:  # what the budget sweep writes on a block_new crossing
        s.add(Meta(key=BLOCKS_KEY, value=json.dumps({"team-c": "team:c"})))
    blocked = _submit(rt, "c")
    Reconciler(rt).run_once()
    state, reason, attempts = _job(rt, blocked)
    assert state == "BLOCKED_BUDGET" and not attempts and "team-c" in reason


def test_budget_stop_asks_for_a_checkpoint_and_ends_on_the_agents_exit(rt: Runtime) -> None:
    api = TestClient(create_app(rt))
    job_id, attempt_id = _running(rt, api)
    _policy(rt, "budgets:\n  - name: tight\n    period: total\n    limit_usd: 0.05\n"
                "    thresholds:\n      - {percent: 100, action: stop}\n")
    later = utcnow() + timedelta(hours=1)  # $0.10 spent at $0.10/h
    ledger.accrue(rt.sessions, now=later)
    report = sweep_budgets(rt.sessions, rt.providers, 30, now=later, grace_s=120)
    assert report.stopped == [job_id]
    assert _job(rt, job_id)[0] == "RUNNING"  # not killed: asked to checkpoint first
    answer = _heartbeat(rt, api, attempt_id)
    assert answer["action"] == ACTION_CHECKPOINT_AND_STOP and "tight" in str(answer["reason"])
    assert float(answer["grace_seconds"]) > 0  # type: ignore[arg-type]
    assert not finish_due(rt.sessions, rt.providers, now=later + timedelta(seconds=60))  # still in grace
    r = api.post(f"/v1/agent/attempts/{attempt_id}/exit", json={"exit_code": 0},
                 headers={"Authorization": f"Bearer {agent_token(rt.agent_secret, attempt_id)}"})
    assert r.status_code == 200 and "tight" in r.json()["stopped"]
    state, reason, attempts = _job(rt, job_id)
    assert state == "BLOCKED_BUDGET" and "stopped after the agent stopped the job" in reason  # not SUCCEEDED
    assert attempts[-1].state == "PREEMPTED"
    Reconciler(rt).run_once()  # the instance has no active attempt any more: terminated
    cheap: FakeProvider = rt.providers["cheap"]  # type: ignore[assignment]
    assert all(i.state is InstanceState.TERMINATED for i in cheap.instances.values())
    kinds = [a.kind for a in _alerts(rt)]
    assert kinds.count("shutdown.budget") == 1 and "cost.threshold" in kinds


def test_runtime_cap_stops_at_the_grace_deadline_without_the_agent(rt: Runtime) -> None:
    api = TestClient(create_app(rt))
    job_id, attempt_id = _running(rt, api)
    other_id, _ = _running(rt, api, team="b")
    _policy(rt, "caps:\n  - scope: team:a\n    max_runtime: 30m\n")
    now = utcnow()
    assert not sweep_caps(rt.sessions, rt.providers, 30, grace_s=60, now=now + timedelta(minutes=20)).stopped
    at = now + timedelta(minutes=31)
    report = sweep_caps(rt.sessions, rt.providers, 30, grace_s=60, now=at)
    assert list(report.stopped) == [job_id] and "max_runtime" in report.stopped[job_id]
    assert not sweep_caps(rt.sessions, rt.providers, 30, grace_s=60, now=at).stopped  # asked once
    assert not finish_due(rt.sessions, rt.providers, now=at + timedelta(seconds=59))
    done = finish_due(rt.sessions, rt.providers, now=at + timedelta(seconds=61))
    assert [f.job_id for f in done] == [job_id]
    state, reason, _ = _job(rt, job_id)
    assert state == "FAILED" and "max_runtime cap of 1800s reached" in reason and "grace deadline" in reason
    assert _job(rt, other_id)[0] == "RUNNING"  # team b has no cap
    cheap: FakeProvider = rt.providers["cheap"]  # type: ignore[assignment]
    assert cheap.instances[done[0].instance_id].state is InstanceState.TERMINATED  # type: ignore[index]
    with transaction(rt.sessions) as s:
        assert s.scalar(select(StopRequest)) is None
        assert s.get(Instance, (done[0].instance_id, "cheap")).ended_at is not None  # type: ignore[union-attr]
    assert [a.kind for a in _alerts(rt)] == ["shutdown.cap"]
    assert _heartbeat(rt, api, attempt_id)["action"] == "stop"


def test_quota_auth_and_stale_prices_alert_through_the_outbox(rt: Runtime) -> None:
    cheap: FakeProvider = rt.providers["cheap"]  # type: ignore[assignment]
    dear: FakeProvider = rt.providers["dear"]  # type: ignore[assignment]
    cheap.fail[("cheap", "c1", "c1-a", "gpu.small", True)] = [QuotaError("vCPU quota 0", provider="cheap")]
    dear.fail[("dear", "d1", "d1-a", "gpu.small", True)] = [AuthError("token expired", provider="dear")]
    job_id = _submit(rt)
    Reconciler(rt).run_once()
    alerts = {a.kind: a for a in _alerts(rt)}
    assert set(alerts) == {"quota.exceeded", "provider.auth_failed"}
    assert alerts["quota.exceeded"].payload["region"] == "c1" and "vCPU quota 0" in alerts["quota.exceeded"].body
    assert alerts["provider.auth_failed"].severity == "critical"
    assert _job(rt, job_id)[0] == "WAITING_CAPACITY"
    cheap.list_error = ProviderError("pricing API down", provider="cheap")
    for _ in range(rt.settings.price_alert_after_failures + 2):
        refresh_due(rt, force=True)
    stale = [a for a in _alerts(rt) if a.kind == "prices.stale"]
    assert len(stale) == 1 and stale[0].payload["failures"] == rt.settings.price_alert_after_failures
    cheap.list_error = None
    refresh_due(rt, force=True)
    cheap.list_error = ProviderError("down again", provider="cheap")
    for _ in range(rt.settings.price_alert_after_failures):
        refresh_due(rt, force=True)
    assert len([a for a in _alerts(rt) if a.kind == "prices.stale"]) == 2  # a new run of failures
