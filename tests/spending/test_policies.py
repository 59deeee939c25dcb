"""Policy file validation, budget and idle decisions (pure), and the sweeps against a real store."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.runtime import build_runtime
from orchestrator.spending import ledger, policy_store
from orchestrator.spending.budget import budget_gate, sweep_budgets
from orchestrator.spending.idle import record_sample, sweep_idle
from orchestrator.spending.policyfile import PolicyError, parse_policy
from orchestrator.store.db import transaction
from orchestrator.store.tables import Alert, Instance, Job, PolicyVersion
from orchestrator.store.types import utcnow
from orchestrator.tokens import create_api_token
from policies.budget import evaluate, overspend_bound, period_bounds
from policies.idle import Sample, idle_verdict
from tests.spending.conftest import T0, make_running


class FakeProvider:
    def __init__(self) -> None:
        self.terminated: list[str] = []

    def terminate(self, ids: list[str]) -> None:
        self.terminated.extend(ids)


BAD = {
    "unknown action": ("budgets:\n  - name: b\n    period: daily\n    limit_usd: 5\n    thresholds:\n"
                       "      - {percent: 80, action: explode}\n", "line 6: budgets.0.thresholds.0.action"),
    "negative limit": ("budgets:\n  - name: b\n    period: daily\n    limit_usd: -5\n", "line 4: budgets.0.limit_usd"),
    "unknown timezone": ("budgets:\n  - name: b\n    period: daily\n    timezone: Mars/Olympus\n    limit_usd: 5\n",
                         "line 4: budgets.0.timezone: unknown timezone"),
    "threshold over 1000%": ("budgets:\n  - name: b\n    period: total\n    limit_usd: 5\n    thresholds:\n"
                             "      - percent: 1500\n        action: alert\n",
                             "line 6: budgets.0.thresholds.0.percent"),
    "unknown field": ("idle:\n  - windw: 10m\n", "line 2: idle.0.windw: unknown field"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_policy_files_name_line_and_field(case: str) -> None:
    text, expected = BAD[case]
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_refused_file_changes_nothing_over_the_api(tmp_path: Path) -> None:
    rt = build_runtime(Settings(home=tmp_path), with_providers=False)
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None)
    api, headers = TestClient(create_app(rt)), {"Authorization": f"Bearer {token}"}
    good = "budgets:\n  - name: b\n    period: monthly\n    timezone: Europe/Berlin\n    limit_usd: 100\n"
    assert api.post("/v1/policies", json={"text": good}, headers=headers).json()["version"] == 1
    refused = api.post("/v1/policies", json={"text": BAD["negative limit"][0]}, headers=headers)
    assert refused.status_code == 422 and "line 4" in refused.json()["error"]["message"]
    assert api.get("/v1/policies/current", headers=headers).json()["text"] == good
    assert [r["version"] for r in api.get("/v1/policies/history", headers=headers).json()["items"]] == [1]
    diff = api.post("/v1/policies/diff", json={"text": good.replace("100", "200")}, headers=headers).json()["diff"]
    assert "-    limit_usd: 100" in diff and "+    limit_usd: 200" in diff
    costs = api.get("/v1/costs", params={"by": "day"}, headers=headers)
    assert costs.status_code == 200 and costs.json()["by"] == "day"
    rt.close()


def test_periods_in_a_timezone() -> None:
    now = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)  # already April 1st in Berlin
    start, end = period_bounds("monthly", "Europe/Berlin", now)
    assert start == datetime(2026, 3, 31, 22, 0, tzinfo=UTC) and end == datetime(2026, 4, 30, 22, 0, tzinfo=UTC)
    assert period_bounds("total", "UTC", now) == (None, None)


def test_each_threshold_fires_at_its_level_and_forecast_before_the_limit() -> None:
    th = [(50.0, "alert"), (80.0, "block_new"), (100.0, "stop")]
    kw = {"limit": 100.0, "thresholds": th, "now": T0, "period_end": T0 + timedelta(days=10), "sweep_interval_s": 60}
    assert evaluate(spent=49.0, burn_per_hour=0.0, **kw).actions == frozenset()  # type: ignore[arg-type]
    assert evaluate(spent=50.0, burn_per_hour=0.0, **kw).actions == {"alert"}  # type: ignore[arg-type]
    assert evaluate(spent=80.0, burn_per_hour=0.0, **kw).actions == {"alert", "block_new"}  # type: ignore[arg-type]
    # committed spend: $60/h for the next 60 s sweep interval pushes 99 over 100
    assert "stop" in evaluate(spent=99.0, burn_per_hour=60.0, **kw).actions  # type: ignore[arg-type]
    early = evaluate(spent=10.0, burn_per_hour=1.0, **kw)  # type: ignore[arg-type]
    assert early.forecast is not None and early.forecast > 100 and not early.crossed


def test_overspend_bound_holds_on_a_simulated_clock() -> None:
    """Many jobs launching at random; a budget sweep every `interval` stops everything at 100%.
    Launches between sweeps are not seen until the next one: final spend <= limit + bound."""
    rng = random.Random(6)
    for _ in range(40):
        interval, limit = rng.choice([30.0, 60.0, 300.0]), rng.uniform(5, 50)
        arrivals = sorted((rng.uniform(0, 36000), rng.uniform(0.5, 30.0)) for _ in range(rng.randint(5, 80)))
        running: list[float] = []
        spent, t = 0.0, 0.0
        while True:
            spent += sum(running) * interval / 3600.0  # instances running since the last sweep
            while arrivals and arrivals[0][0] < t + interval:  # launches the last sweep did not see
                at, price = arrivals.pop(0)
                spent += price * (t + interval - at) / 3600.0
                running.append(price)
            t += interval
            v = evaluate(limit=limit, thresholds=[(100.0, "stop")], spent=spent, burn_per_hour=sum(running),
                         now=datetime.fromtimestamp(t, UTC), period_end=None, sweep_interval_s=interval)
            if "stop" in v.actions or (not arrivals and not running) or t > 200000:
                break
        assert spent <= limit + overspend_bound(running, interval) + 1e-9


def test_budget_sweep_alerts_blocks_and_stops(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        policy_store.apply(s, "budgets:\n  - name: team-a\n    scope: team:a\n    period: total\n    limit_usd: 10\n"
                              "    thresholds:\n      - {percent: 50, action: alert}\n"
                              "      - {percent: 80, action: block_new}\n      - {percent: 100, action: stop}\n")
    job_a, _, inst_a = make_running(sessions, team="a", price=3600.0 * 0.001)  # $3.6/h
    make_running(sessions, team="b", price=100.0)
    provider = FakeProvider()
    at = T0 + timedelta(seconds=6000)  # $6 spent by team a
    ledger.accrue(sessions, now=at)
    report = sweep_budgets(sessions, {"local": provider}, 60, now=at)  # type: ignore[dict-item]
    assert report.alerts == 1 and not report.blocked_scopes
    at = T0 + timedelta(seconds=8500)  # $8.5: block new launches of team a only
    report = sweep_budgets(sessions, {"local": provider}, 60, now=at)  # type: ignore[dict-item]
    assert report.blocked_scopes == {"team-a": "team:a"} and not report.stopped
    with transaction(sessions) as s:
        jobs = {j.team: j for j in s.scalars(select(Job))}
        assert budget_gate(s, jobs["a"]) and budget_gate(s, jobs["b"]) is None
    at = T0 + timedelta(seconds=9980)  # committed ($9.98 + 60 s at $3.6/h) reaches $10: stop
    report = sweep_budgets(sessions, {"local": provider}, 60, now=at)  # type: ignore[dict-item]
    assert report.stopped == [job_a] and provider.terminated == [inst_a]
    with transaction(sessions) as s:
        assert s.scalar(select(Job.state).where(Job.id == job_a)) == "BLOCKED_BUDGET"
        kinds = sorted(a.kind for a in s.scalars(select(Alert)))
        assert s.get(Instance, (inst_a, "local")).ended_at is not None  # type: ignore[union-attr]
    assert kinds.count("cost.threshold") == 3 and "shutdown.budget" in kinds


def test_idle_verdicts() -> None:
    kw = {"threshold": 5.0, "window_s": 600, "grace_s": 300, "active_since": T0}
    now = T0 + timedelta(seconds=1200)
    stalled = [Sample(now - timedelta(seconds=s), "running", 0.0) for s in range(0, 600, 30)]
    busy = [Sample(now - timedelta(seconds=s), "running", 90.0) for s in range(0, 600, 30)]
    assert idle_verdict(samples=stalled, now=now, job_running=True, warned_at=None, **kw).action == "warn"
    assert idle_verdict(samples=busy, now=now, job_running=True, warned_at=None, **kw).action == "none"
    assert idle_verdict(samples=busy, now=now, job_running=True, warned_at=now, **kw).action == "clear"
    assert idle_verdict(samples=stalled, now=now, job_running=True, warned_at=now - timedelta(seconds=100),
                        **kw).action == "none"  # still in grace
    late = now - timedelta(seconds=301)
    assert idle_verdict(samples=stalled, now=now, job_running=True, warned_at=late, **kw).action == "shutdown"
    uploading = [*stalled, Sample(now, "running", 0.0, checkpoint_uploading=True)]
    assert idle_verdict(samples=uploading, now=now, job_running=True, warned_at=late, **kw).action == "wait_upload"
    assert idle_verdict(samples=[], now=now, job_running=False, warned_at=None, **kw).action == "warn"
    no_gpu = [Sample(now - timedelta(seconds=s), "running", None) for s in range(0, 600, 30)]
    assert idle_verdict(samples=no_gpu, now=now, job_running=True, warned_at=None, **kw).action == "none"


def test_idle_sweep_warns_first_then_shuts_down_and_spares_busy(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        policy_store.apply(s, "idle:\n  - gpu_utilization_below: 5\n    window: 10m\n    grace: 5m\n")
    stalled_job, stalled_attempt, stalled_inst = make_running(sessions, team="a")
    _, busy_attempt, _ = make_running(sessions, team="a")
    with transaction(sessions) as s:
        for sec in range(0, 1500, 30):
            record_sample(s, stalled_attempt, "running", 0.0, at=T0 + timedelta(seconds=sec))
            record_sample(s, busy_attempt, "running", 80.0, at=T0 + timedelta(seconds=sec))
    provider = FakeProvider()
    first = sweep_idle(sessions, {"local": provider}, now=T0 + timedelta(seconds=900))  # type: ignore[dict-item]
    assert first.warned == [stalled_inst] and not first.shut_down
    early = sweep_idle(sessions, {"local": provider}, now=T0 + timedelta(seconds=1100))  # type: ignore[dict-item]
    assert not early.shut_down and not early.warned
    done = sweep_idle(sessions, {"local": provider}, now=T0 + timedelta(seconds=1201))  # type: ignore[dict-item]
    assert done.shut_down == [stalled_inst] and provider.terminated == [stalled_inst]
    with transaction(sessions) as s:
        alerts = [a.kind for a in s.scalars(select(Alert).order_by(Alert.created_at))]
        assert s.scalar(select(Job.state).where(Job.id == stalled_job)) == "FAILED"
    assert alerts == ["idle.warning", "shutdown.idle"]


def test_block_stays_while_releasing_its_waiting_jobs_would_cross_it_again(sessions: sessionmaker[Session]) -> None:
    """Committed spend crossed block_new while a job ran; when it ends, committed falls back to the spend.
    Releasing the waiting jobs then would launch them all at once and cross again (the chaos harness's
    capped team went 4x over its limit that way): the block stays until the release fits the budget."""
    from orchestrator.jobs import transitions as T
    from orchestrator.jobs.attempts import AttemptState, close_instance, end_attempt
    from orchestrator.jobs.models import JobSpec
    from orchestrator.jobs.queue import submit

    policy = ("budgets:\n  - name: team-a\n    scope: team:a\n    period: total\n    limit_usd: {limit}\n"
              "    thresholds:\n      - {{percent: 100, action: block_new}}\n")
    with transaction(sessions) as s:
        policy_store.apply(s, policy.format(limit=10))
    job_a, attempt_a, inst_a = make_running(sessions, team="a", price=3600.0)  # $1/s
    provider = FakeProvider()
    at = T0 + timedelta(seconds=5)
    assert sweep_budgets(sessions, {"local": provider}, 60, now=at).blocked_scopes  # type: ignore[dict-item]
    with transaction(sessions) as s:
        waiting = submit(s, JobSpec(name="w", run="true", team="a"), now=at)
        T.block_for_budget(s, waiting, "held")
        row = s.get(Instance, (inst_a, "local"))
        assert row is not None
        end_attempt(s, attempt_a, AttemptState.SUCCEEDED, "exit code 0", exit_code=0, at=at)
        close_instance(s, row, "terminated", at=at)
        T.mark_succeeded(s, s.scalars(select(Job).where(Job.id == job_a)).one(), attempt_a)
    ledger.accrue(sessions, now=at)
    at += timedelta(seconds=60)  # $5 spent, nothing running: committed $5 < $10, but a release would commit $65
    report = sweep_budgets(sessions, {"local": provider}, 60, now=at)  # type: ignore[dict-item]
    assert report.blocked_scopes == {"team-a": "team:a"} and report.unblocked == 0
    with transaction(sessions) as s:
        policy_store.apply(s, policy.format(limit=100))  # the release now fits: $5 + $60 < $100
    report = sweep_budgets(sessions, {"local": provider}, 60, now=at)  # type: ignore[dict-item]
    assert not report.blocked_scopes and report.unblocked == 1


def test_versions_applied_before_a_rule_was_added_still_read_back(sessions: sessionmaker[Session]) -> None:
    """Rules for new files (no empty file, no infinite numbers, no repeated key) must never make the policy in force
    unreadable: the loops read it on every sweep and would stop enforcing budgets. Rows as an older daemon stored
    them, read through the loops' own path."""
    budget = "budgets:\n  - name: b\n    period: monthly\n    limit_usd: 100\n"
    for version, text in enumerate(("", budget + "    limit_usd: 250\n"), start=1):
        with transaction(sessions) as s:
            s.add(PolicyVersion(version=version, text=text, sha256=hashlib.sha256(text.encode()).hexdigest(),
                                applied_at=utcnow(), applied_by="older daemon"))
        with transaction(sessions) as s:
            policy = policy_store.current_policy(s)
        assert [b.limit_usd for b in policy.budgets] == ([] if version == 1 else [250])  # YAML's last-wins
        with pytest.raises(PolicyError), transaction(sessions) as s:  # the same text is refused as a new file
            policy_store.apply(s, text)
