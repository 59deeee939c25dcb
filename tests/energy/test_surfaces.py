"""Energy and carbon through the real API: heartbeats in; jobs show, costs --energy, metrics, offers out."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from orchestrator.api import create_app
from orchestrator.catalog.pricing import store_offers
from orchestrator.cli.render import job_detail
from orchestrator.config import Settings
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt
from orchestrator.tokens import agent_token, create_api_token
from tests.fakes.provider import make_offer
from tests.spending.conftest import T0, running_job


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path), with_providers=False)
    yield runtime
    runtime.close()


@pytest.fixture
def api(rt: Runtime) -> TestClient:
    return TestClient(create_app(rt))


def _admin(rt: Runtime) -> dict[str, str]:
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None)
    return {"Authorization": f"Bearer {token}"}


def test_heartbeats_with_power_surface_in_jobs_show_costs_and_metrics(rt: Runtime, api: TestClient) -> None:
    with transaction(rt.sessions) as s:
        job_id, attempt_id, _ = running_job(s, team="vision", cloud="gcp", region="us-central1", launched_at=T0)
        s.get(Attempt, attempt_id).offer = {"gpu_model": "H100", "gpu_count": 8, "vcpus": 208,  # type: ignore[union-attr]
                                             "memory_gb": 1872}
    agent = {"Authorization": f"Bearer {agent_token(rt.agent_secret, attempt_id)}"}
    for _ in range(3):
        r = api.post(f"/v1/agent/attempts/{attempt_id}/heartbeat", headers=agent,
                     json={"phase": "running", "gpu_utilization": 99, "gpu_power_watts": 5536.0})
        assert r.status_code == 200, r.text
    bad = api.post(f"/v1/agent/attempts/{attempt_id}/heartbeat", headers=agent, json={"gpu_power_watts": -1})
    assert bad.status_code == 422
    admin = _admin(rt)

    job = api.get(f"/v1/jobs/{job_id}", headers=admin).json()
    assert job["energy"]["method"] == "measured" and job["energy"]["energy_kwh"] > 0
    assert job["energy"]["kg_co2e"] > 0 and job["attempt_list"][0]["energy"]["method"] == "measured"
    out = io.StringIO()
    job_detail(Console(file=out, width=200), job, [])
    text = out.getvalue()
    assert "GPU measured, host estimated" in text and " CO2e" in text

    costs = api.get("/v1/costs", params={"by": "team", "energy": "true"}, headers=admin).json()
    row = next(r for r in costs["items"] if r["team"] == "vision")
    assert row["energy_kwh"] == job["energy"]["energy_kwh"] and row["method"] == "measured"
    assert costs["total_kg_co2e"] == pytest.approx(job["energy"]["kg_co2e"])
    assert api.get("/v1/costs", params={"by": "instance", "energy": "true"}, headers=admin).status_code == 422
    assert "energy_kwh" not in api.get("/v1/costs", headers=admin).json()["items"][0]

    metrics = api.get("/metrics").text
    assert 'spotwise_energy_kwh{method="measured",team="vision"}' in metrics
    assert 'spotwise_carbon_kg_co2e{team="vision"}' in metrics


def test_offers_show_carbon_and_rank_with_a_carbon_price(rt: Runtime, api: TestClient) -> None:
    shape = {"gpu": "A100", "count": 8, "vcpus": 96.0, "memory_gb": 1152.0}
    with transaction(rt.sessions) as s:
        store_offers(s, "gcp", "live", [make_offer("gcp", "us-east1-b", 12.00, **shape),  # type: ignore[arg-type]
                                         make_offer("gcp", "europe-north1-a", 12.10, **shape)])  # type: ignore[arg-type]
    admin = _admin(rt)
    plain = api.get("/v1/offers", params={"gpu": "A100:8"}, headers=admin).json()["items"]
    assert [o["region"] for o in plain] == ["us-east1", "europe-north1"]
    assert plain[0]["grid_g_co2e_per_kwh"] == 575.77 and plain[0]["carbon_kg_per_hour"] > plain[1]["carbon_kg_per_hour"]
    green = api.get("/v1/offers", params={"gpu": "A100:8", "carbon_price": 0.1}, headers=admin).json()["items"]
    assert [o["region"] for o in green] == ["europe-north1", "us-east1"]
