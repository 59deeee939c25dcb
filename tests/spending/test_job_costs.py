"""Job cost views (`jobs list/show`, per attempt) read the ledger: the same number `spotwise costs` gives.

Few-second instances with fractional lifetimes are where price x lifetime and the ledger's whole
seconds part ways (~15% on a 3.7 s instance), so the rows here are exactly those.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.spending import costs, ledger
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Instance, LedgerEntry
from orchestrator.tokens import create_api_token
from tests.spending.conftest import T0, running_job

LIVES = (3.7, 2.25, 9.999, 0.6, 61.4)  # seconds; 0.6 s never reaches a whole second


@pytest.fixture
def rt(tmp_path: Path, db_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, database_url=db_url), with_providers=False)
    yield runtime
    runtime.close()


def _jobs(rt: Runtime) -> list[str]:
    """Finished few-second jobs; the second has two attempts (a preemption and a retry)."""
    ids = []
    with transaction(rt.sessions) as s:
        for n, life in enumerate(LIVES):
            launched = T0 + timedelta(seconds=n * 100, microseconds=123457 * n)
            job_id, attempt_id, iid = running_job(s, team="t", price=3.6 + n, launched_at=launched)
            row = s.get(Instance, (iid, "local"))
            assert row is not None
            row.ended_at = launched + timedelta(seconds=life)
            ids.append(job_id)
        retry = s.get(Attempt, f"{ids[1]}-1")
        assert retry is not None
        s.add(Attempt(**{c.key: getattr(retry, c.key) for c in Attempt.__table__.columns
                         if c.key not in ("id", "number", "idempotency_key")},
                      id=f"{ids[1]}-2", number=2, idempotency_key=f"{ids[1]}-2"))
        s.flush()
        s.add(Instance(id=f"i-{ids[1]}-b", provider="local", attempt_id=f"{ids[1]}-2", job_id=ids[1],
                       region="local-1", zone="local-1a", instance_type="gpu", spot=True, price_per_hour=7.2,
                       state="terminated", launched_at=T0 + timedelta(seconds=150.5),
                       ended_at=T0 + timedelta(seconds=155.9), preempted=False))
    return ids


def _ledger_by_job(rt: Runtime) -> dict[str, float]:
    with transaction(rt.sessions) as s:
        return {str(r["job"]): float(str(r["cost_usd"])) for r in ledger.report(s, "job", now=T0 + timedelta(days=1))}


def test_job_and_attempt_views_equal_the_ledger_exactly(rt: Runtime) -> None:
    ids = _jobs(rt)
    ledger.accrue(rt.sessions, now=T0 + timedelta(seconds=2))  # part accrued, part still pending
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None)
    api, headers = TestClient(create_app(rt)), {"Authorization": f"Bearer {token}"}
    before = _ledger_by_job(rt)
    listed = {j["id"]: j["cost_usd"] for j in api.get("/v1/jobs", headers=headers).json()["items"]}
    shown = {i: api.get(f"/v1/jobs/{i}", headers=headers).json() for i in ids}
    ledger.accrue(rt.sessions, now=T0 + timedelta(hours=1))  # now everything is in the ledger
    with transaction(rt.sessions) as s:
        stored = dict(s.execute(select(LedgerEntry.job_id, func.sum(LedgerEntry.cost_usd))
                                .group_by(LedgerEntry.job_id)).all())
    for job_id in ids:
        assert listed[job_id] == shown[job_id]["cost_usd"] == before.get(job_id, 0.0)
        assert listed[job_id] == round(stored.get(job_id, 0.0), 6) == _ledger_by_job(rt).get(job_id, 0.0)
        attempts = shown[job_id]["attempt_list"]
        assert sum(a["cost_usd"] for a in attempts) == pytest.approx(listed[job_id], abs=1e-6)
    # the old price x lifetime view was off by the fractional seconds: 3.7 s at $3.6/h is 3 s charged
    assert listed[ids[0]] == round(3.6 * 3 / 3600, 6) != round(3.6 * 3.7 / 3600, 6)
    assert listed[ids[3]] == 0.0  # 0.6 s: no whole second, nothing charged, in the view as in the ledger
    assert [a["cost_usd"] for a in shown[ids[1]]["attempt_list"]] == [round(4.6 * 2 / 3600, 6),
                                                                    round(7.2 * 5 / 3600, 6)]


def test_running_instances_are_charged_so_far_by_the_ledger_rule(rt: Runtime) -> None:
    with transaction(rt.sessions) as s:
        job_id, _, _ = running_job(s, price=36.0, launched_at=T0 + timedelta(microseconds=400000))
    ledger.accrue(rt.sessions, now=T0 + timedelta(seconds=4.2))
    for seconds in (4.2, 7.9, 8.4, 3600.0):
        now = T0 + timedelta(seconds=seconds)
        with transaction(rt.sessions) as s:
            view = costs.job_costs(s, [job_id], now)[job_id]
            report = {r["job"]: r["cost_usd"] for r in ledger.report(s, "job", now=now)}
        whole = int(seconds - 0.4)  # launched at +0.4 s: whole seconds since then
        assert round(view, 6) == report[job_id] == round(36.0 * whole / 3600, 6)
