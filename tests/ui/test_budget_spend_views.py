"""A budget's spend is one number: the dashboard API, /metrics and the budget sweep all agree.

Why: the dashboard and the metrics gauge used to gather each scope's jobs in Python while the sweep
matched scopes in SQL; now all three call `budgets.spend_by_budget`. The check goes
through the real app (in-process HTTP), on a real SQLite file and on the real PostgreSQL, against a
reference that reads every job, entry and instance row. Every instance is closed, so spend does not
move between the requests and the sweep; a daily budget's time zone is picked so that local noon is
now, which keeps the period boundary twelve hours away from the test on either side.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.spending import ledger, policy_store
from orchestrator.spending.budget import sweep_budgets
from orchestrator.store.db import transaction
from orchestrator.store.tables import Alert, Instance, Job
from orchestrator.store.types import utcnow
from orchestrator.tokens import create_api_token
from policies.budget import period_bounds, scope_matches
from tests.spending.conftest import running_job
from tests.spending.test_ledger_sums import reference_entries

BUDGETS = (  # (name, scope, period); every scope below has spent something in each period
    ("all-total", "global", "total"), ("all-daily", "global", "daily"), ("team-a-daily", "team:a", "daily"),
    ("team-b-total", "team:b", "total"), ("p1-total", "project:p1", "total"), ("kv-daily", "label:k=v", "daily"),
    ("ab-total", "label:a.b=x", "total"),
)


@pytest.fixture
def rt(tmp_path: Path, db_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path / "home", database_url=db_url), with_providers=False)
    yield runtime
    runtime.close()


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is now between 12:00 and 13:00 (Etc/GMT+N is N hours *behind* UTC)."""
    offset = 12 - now.hour  # -11..12, all valid Etc/GMT offsets
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def closed_instance(s: Session, now: datetime, *, team: str, project: str | None, labels: dict[str, str],
                    price: float, ago_h: float, hours: float, n: int) -> str:
    job_id, _, iid = running_job(s, team=team, project=project, labels=labels, price=price,
                                 launched_at=now - timedelta(hours=ago_h), instance_id=f"i-{n}")
    row = s.get(Instance, (iid, "local"))
    assert row is not None
    row.ended_at = row.launched_at + timedelta(hours=hours)
    return job_id


def make_history(rt: Runtime, now: datetime) -> None:
    """Closed instances inside today, before it and across its start; some accrued, some not, one gang."""
    with transaction(rt.sessions) as s:
        closed_instance(s, now, team="a", project="p1", labels={"k": "v"}, price=2.0, ago_h=3, hours=1, n=1)
        closed_instance(s, now, team="b", project="p1", labels={"k": "w"}, price=4.0, ago_h=1.5, hours=0.5, n=2)
        gang = closed_instance(s, now, team="a", project=None, labels={}, price=1.0, ago_h=4, hours=1, n=3)
        first = s.get(Instance, ("i-3", "local"))
        assert first is not None
        s.add(Instance(id="i-3b", provider="local", attempt_id=first.attempt_id, job_id=gang, region="local-1",
                       zone="local-1a", instance_type="gpu", spot=True, price_per_hour=1.0, state="terminated",
                       launched_at=first.launched_at, ended_at=first.launched_at + timedelta(hours=0.5), node=1))
        closed_instance(s, now, team="b", project="p2", labels={"k": "v"}, price=1.0, ago_h=20, hours=2, n=4)
        closed_instance(s, now, team="a", project="p2", labels={"k": "v", "a.b": "x"}, price=0.5, ago_h=14,
                        hours=4, n=5)  # straddles the daily period's start
        submit(s, JobSpec(name="queued", run="true", team="c", labels={"k": "v"}), now=now)  # in scope, no spend
    for ago_h in (3.75, 2.5):  # accrual passes part-way: the rest is only in `unaccrued`
        ledger.accrue(rt.sessions, now=now - timedelta(hours=ago_h))


def reference_spend(rt: Runtime, scope: str, period: str, zone: str, now: datetime) -> float:
    """Spend of the scope this period, from every row read into Python."""
    with transaction(rt.sessions) as s:
        ids = {j.id for j in s.scalars(select(Job))
               if scope_matches(scope, j.team, j.project, dict((j.spec or {}).get("labels") or {}))}
        start, _ = period_bounds(period, zone, now)
        return sum(e.cost_usd for e in reference_entries(s, now)
                   if e.job_id in ids and (start is None or e.start >= start))


def gauges(api: TestClient) -> dict[str, float]:
    """budget name -> spotwise_budget_spent_usd, parsed from the real /metrics text."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(api.get("/metrics").text):
        if family.name == "spotwise_budget_spent_usd":
            for sample in family.samples:
                out[sample.labels["budget"]] = sample.value
    return out


def test_dashboard_metrics_and_sweep_show_the_same_budget_spend(rt: Runtime) -> None:
    now = utcnow().replace(microsecond=0)
    zone = noon_zone(now)
    make_history(rt, now)
    lines = [f"  - {{name: {name}, scope: '{scope}', period: {period}, timezone: '{zone}', limit_usd: 0.01, "
             "forecast_alert: false, thresholds: [{percent: 1, action: alert}]}" for name, scope, period in BUDGETS]
    with transaction(rt.sessions) as s:
        policy_store.apply(s, "budgets:\n" + "\n".join(lines) + "\n")
        _, admin = create_api_token(s, role="admin", team=None)
        _, team_a = create_api_token(s, role="team", team="a")
    api = TestClient(create_app(rt))

    shown = {b["name"]: b for b in api.get("/v1/dashboard/budgets",
                                           headers={"Authorization": f"Bearer {admin}"}).json()["items"]}
    scraped = gauges(api)
    sweep_budgets(rt.sessions, {}, 60.0, now=utcnow(), grace_s=60.0)  # limits are tiny: every budget alerts
    with transaction(rt.sessions) as s:
        swept = {a.payload["budget"]: a.payload["spent_usd"]
                 for a in s.scalars(select(Alert).where(Alert.kind == "cost.threshold"))}

    assert set(shown) == set(scraped) == set(swept) == {name for name, _, _ in BUDGETS}
    for name, scope, period in BUDGETS:
        want = reference_spend(rt, scope, period, zone, now)
        assert want > 0.1, name  # each scope really spent, so a dropped row shows
        assert scraped[name] == pytest.approx(want, rel=1e-9, abs=1e-9), name
        assert shown[name]["spent_usd"] == pytest.approx(want, abs=1.01e-6), name
        assert swept[name] == pytest.approx(want, abs=1.01e-4), name  # the alert payload rounds to 4 places
        assert shown[name]["burn_per_hour"] == 0.0 and shown[name]["percent"] == pytest.approx(100 * want / 0.01,
                                                                                               abs=0.011)
    # the daily budgets see less than their totals: the period boundary is applied the same way by all three
    assert scraped["all-daily"] < scraped["all-total"] - 1.0

    own = api.get("/v1/dashboard/budgets", headers={"Authorization": f"Bearer {team_a}"}).json()["items"]
    assert [(b["name"], b["spent_usd"]) for b in own] == [("team-a-daily", shown["team-a-daily"]["spent_usd"])]


def test_dashboard_burn_counts_every_node_of_a_running_gang(rt: Runtime) -> None:
    """A job on three machines burns three prices an hour: the dashboard's burn (and forecast) says so, as the
    sweep's committed spend does."""
    now = utcnow().replace(microsecond=0)
    with transaction(rt.sessions) as s:
        job_id, _, iid = running_job(s, team="a", project=None, labels={}, price=1.5,
                                     launched_at=now - timedelta(minutes=5), instance_id="i-g0")
        first = s.get(Instance, (iid, "local"))
        assert first is not None
        for node in (1, 2):
            s.add(Instance(id=f"i-g{node}", provider="local", attempt_id=first.attempt_id, job_id=job_id,
                           region="local-1", zone="local-1a", instance_type="gpu", spot=True, price_per_hour=1.5,
                           state="running", launched_at=first.launched_at, node=node))
        running_job(s, team="b", project=None, labels={}, price=0.25, launched_at=now - timedelta(minutes=5),
                    instance_id="i-other")
        policy_store.apply(s, "budgets:\n  - {name: team-a, scope: 'team:a', period: monthly, limit_usd: 1000, "
                              "thresholds: [{percent: 80, action: alert}]}\n"
                              "  - {name: all, scope: global, period: monthly, limit_usd: 1000, "
                              "thresholds: [{percent: 80, action: alert}]}\n")
        _, admin = create_api_token(s, role="admin", team=None)
    api = TestClient(create_app(rt))
    shown = {b["name"]: b for b in api.get("/v1/dashboard/budgets",
                                           headers={"Authorization": f"Bearer {admin}"}).json()["items"]}
    assert shown["team-a"]["burn_per_hour"] == pytest.approx(4.5)
    assert shown["all"]["burn_per_hour"] == pytest.approx(4.75)
