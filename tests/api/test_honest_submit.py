"""Honest answers at submit, through the real app on a real SQLite file with the real local provider's offers loaded
by the real price refresh: a job no configured provider could ever run is refused with what exists instead, a dry
run shows where a job would go and queues nothing, and a stored job that cannot be placed says what it waits for."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from orchestrator.api import create_app
from orchestrator.catalog.pricing import load_offers, refresh_due
from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.provisioning.feasibility import NO_OFFERS_NOTE
from orchestrator.provisioning.launcher import Launcher
from orchestrator.provisioning.placement_state import save_block
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Job, JobEvent
from orchestrator.tokens import create_api_token

JOB: dict[str, Any] = {"name": "train", "run": "python train.py"}


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, database_url=db_url))  # the default: the local provider only
    yield runtime
    runtime.close()


@pytest.fixture
def admin(rt: Runtime) -> dict[str, str]:
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(rt: Runtime) -> TestClient:
    assert refresh_due(rt) == {"local": 43}  # the local provider's offers, as the daemon's price loop loads them
    return TestClient(create_app(rt), raise_server_exceptions=False)


def _post(api: TestClient, admin: dict[str, str], resources: dict[str, Any], **params: str) -> Any:
    return api.post("/v1/jobs", json={**JOB, "resources": resources}, headers=admin, params=params)


def _refused(api: TestClient, admin: dict[str, str], resources: dict[str, Any]) -> str:
    response = _post(api, admin, resources)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_spec"
    return str(response.json()["error"]["message"])


def _jobs(rt: Runtime) -> int:
    with transaction(rt.sessions) as s:
        return int(s.scalar(select(func.count()).select_from(Job)) or 0)


def test_a_misspelt_gpu_is_refused_with_the_model_meant(api: TestClient, admin: dict[str, str], rt: Runtime) -> None:
    message = _refused(api, admin, {"accelerators": "A1OO:1"})
    assert message.startswith("resources.accelerators: unknown GPU model 'A1OO'; did you mean A100? known models:")
    assert _jobs(rt) == 0


def test_a_gpu_count_no_provider_sells_is_refused_with_what_exists(api: TestClient, admin: dict[str, str],
                                                                   rt: Runtime) -> None:
    message = _refused(api, admin, {"accelerators": "A100:1", "spot": True})
    assert message.startswith("no configured provider offers A100:1 spot; local offers A100:8 ($11.57/h spot in "
                              "local-west-a)"), message
    assert message.endswith("aws, azure, gcp are not configured ('spotwise providers list')"), message
    assert _jobs(rt) == 0


def test_limits_that_rule_out_every_offer_name_the_one_that_does(api: TestClient, admin: dict[str, str]) -> None:
    capped = _refused(api, admin, {"accelerators": "T4:1", "max_price_per_hour": 0.01})
    assert "no configured provider offers T4:1 at or under $0.01/h; the cheapest T4:1, local g4dn.xlarge at " \
           "$0.1949/h spot in local-east-b, is ruled out: $0.1949/h over the cap $0.0100/h" in capped
    region = _refused(api, admin, {"accelerators": "H100:8", "regions": ["us-east-1"]})
    assert "offers H100:8 in regions us-east-1;" in region and "region local-east not allowed" in region


def test_clouds_are_checked_against_the_configured_providers(api: TestClient, admin: dict[str, str]) -> None:
    message = _refused(api, admin, {"accelerators": "T4:1", "clouds": ["aws"]})
    assert message == ("resources.clouds: 'aws' is not a provider this daemon has configured; configured: local "
                       "('spotwise providers list')")
    assert _post(api, admin, {"accelerators": "T4:1", "clouds": ["local"]}).status_code == 201


@pytest.mark.parametrize(("resources", "expected"), [
    ({"memory_gb": 1e308}, "resources.memory_gb: 1e+308 is more than any machine has; ask for at most 32768"),
    ({"cpus": 1e12}, "resources.cpus: 1e+12 is more than any machine has; ask for at most 4096"),
    ({"memory_gb": 4096}, "no configured provider offers a machine with 4096+ GB memory"),
])
def test_absurd_sizes_are_refused(api: TestClient, admin: dict[str, str], resources: dict[str, Any],
                                  expected: str) -> None:
    assert expected in _refused(api, admin, resources)


@pytest.mark.parametrize(("written", "stored"), [
    ("a100:8", "A100:8"), ("nvidia-tesla-t4", "T4:1"), ("A100_80GB:8", "A100-80GB:8"), ("Tesla-V100:1", "V100:1"),
])
def test_aliases_are_normalised_and_placed(api: TestClient, admin: dict[str, str], written: str, stored: str) -> None:
    response = _post(api, admin, {"accelerators": written})
    assert response.status_code == 201, response.text
    job = api.get(f"/v1/jobs/{response.json()['id']}", headers=admin).json()
    assert job["accelerators"] == stored and job["spec"]["resources"]["accelerators"] == stored


def test_a_dry_run_shows_the_best_three_offers_and_queues_nothing(api: TestClient, admin: dict[str, str],
                                                                  rt: Runtime) -> None:
    response = _post(api, admin, {"accelerators": "T4:1"}, dry_run="true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True and body["queued"] is False and body["accelerators"] == "T4:1"
    offers = body["offers"]
    assert len(offers) == 3 and [o["price_per_hour"] for o in offers] == sorted(o["price_per_hour"] for o in offers)
    assert offers[0]["zone"] == "local-east-b" and offers[0]["reason"].startswith("cheapest matching: local spot")
    assert _post(api, admin, {"accelerators": "A100:1"}, dry_run="true").status_code == 422  # refused alike
    assert _jobs(rt) == 0


def test_with_no_offers_known_a_job_is_accepted_and_told_so(rt: Runtime, admin: dict[str, str]) -> None:
    api = TestClient(create_app(rt), raise_server_exceptions=False)  # before any price refresh
    response = _post(api, admin, {"accelerators": "A100:1"})
    assert response.status_code == 201 and response.json()["note"] == NO_OFFERS_NOTE
    events = api.get(f"/v1/jobs/{response.json()['id']}/events", headers=admin).json()["items"]
    assert events[0]["reason"] == f"submitted; {NO_OFFERS_NOTE}"
    assert _post(api, admin, {"accelerators": "A1OO:1"}).status_code == 422  # a misspelling needs no offers


def _place(rt: Runtime, job_id: str) -> Any:
    Launcher(rt).place_queue()
    with transaction(rt.sessions) as s:
        job = s.scalars(select(Job).where(Job.id == job_id)).one()
        return job.state, job.reason, job.not_before


def test_a_stored_job_no_offer_matches_says_so_not_blocked_pools(api: TestClient, admin: dict[str, str],
                                                               rt: Runtime) -> None:
    """A job stored before the submit check (here through the store, as an older daemon did) waits honestly."""
    with transaction(rt.sessions) as s:
        job_id = submit(s, JobSpec.model_validate({**JOB, "resources": {"accelerators": "A100:1", "spot": True}})).id
    state, reason, not_before = _place(rt, job_id)
    assert state == "WAITING_CAPACITY" and not_before is not None
    assert reason.startswith("no offer matches: no configured provider offers A100:1 spot; local offers A100:8"), reason
    assert "blocked" not in reason
    shown = api.get(f"/v1/jobs/{job_id}", headers=admin).json()
    assert shown["reason"] == reason and shown["not_before"] is not None
    with transaction(rt.sessions) as s:  # a misspelt model stored earlier still reads back, and is named as such
        typo = submit(s, JobSpec.model_validate({**JOB, "resources": {"accelerators": "A1OO:1", "spot": False}})).id
    state, reason, _ = _place(rt, typo)
    assert state == "WAITING_CAPACITY" and reason.startswith(
        "no offer matches: no configured provider offers A1OO:1 on-demand; no offer has A1OO GPUs (not a GPU model "
        "Spotwise knows; did you mean A100?); GPUs offered: A100, A100-80GB, A10G, H100, L4, T4, V100;"), reason
    assert api.get(f"/v1/jobs/{typo}", headers=admin).json()["accelerators"] == "A1OO:1"


def test_a_job_whose_pools_are_all_blocked_says_until_when(api: TestClient, admin: dict[str, str],
                                                           rt: Runtime) -> None:
    job_id = _post(api, admin, {"accelerators": "T4:1", "spot": True}).json()["id"]
    before = time.time() + 600
    with transaction(rt.sessions) as s:
        pools = [o.pool for o in load_offers(s, frozenset({"local"})) if o.gpu_model == "T4" and o.spot]
        for pool in pools:
            save_block(s, "pool", pool, 600, "InsufficientInstanceCapacity")
    after = time.time() + 600
    state, reason, _ = _place(rt, job_id)
    untils = {time.strftime("%H:%M", time.gmtime(t)) for t in (before, after)}  # the minute may turn meanwhile
    assert state == "WAITING_CAPACITY", reason
    assert reason.startswith("capacity: pools local local-east-a g4dn.xlarge spot, local local-east-b g4dn.xlarge "
                             "spot, local local-west-a g4dn.xlarge spot blocked until "), reason
    assert any(reason.endswith(f"blocked until {u} UTC after InsufficientInstanceCapacity") for u in untils), reason
    with transaction(rt.sessions) as s:
        kinds = list(s.scalars(select(JobEvent.reason).where(JobEvent.job_id == job_id)))
    assert any(k.startswith("capacity: pools") for k in kinds), kinds


def test_concurrent_submissions_are_each_checked(api: TestClient, admin: dict[str, str], rt: Runtime) -> None:
    """Sixteen clients at once (their jobs committed in shared batches): every impossible one gets its own 422, every
    possible one is stored."""
    def post(i: int) -> Any:
        resources = {"accelerators": "A100:1" if i % 4 == 0 else "T4:1"}
        return api.post("/v1/jobs", json={**JOB, "name": f"c{i}", "resources": resources}, headers=admin)

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(post, range(64)))
    assert [r.status_code for r in responses] == [422 if i % 4 == 0 else 201 for i in range(64)]
    assert all("local offers A100:8" in r.json()["error"]["message"] for r in responses if r.status_code == 422)
    assert _jobs(rt) == 48


def test_a_dry_run_leaves_out_blocked_pools_and_says_when_all_are(api: TestClient, admin: dict[str, str],
                                                                  rt: Runtime) -> None:
    with transaction(rt.sessions) as s:
        pools = sorted((o.pool for o in load_offers(s, frozenset({"local"})) if o.gpu_model == "T4" and o.spot),
                       key=lambda p: p[2])
        save_block(s, "pool", next(p for p in pools if p[2] == "local-east-b"), 600, "InsufficientInstanceCapacity")
    body = _post(api, admin, {"accelerators": "T4:1", "spot": True}, dry_run="true").json()
    assert [o["zone"] for o in body["offers"]] == ["local-east-a", "local-west-a"], body  # the cheapest is blocked
    with transaction(rt.sessions) as s:
        for pool in pools:
            save_block(s, "pool", pool, 600, "InsufficientInstanceCapacity")
    body = _post(api, admin, {"accelerators": "T4:1"}, dry_run="true").json()
    assert body["note"].startswith("it would wait now (capacity: pools local local-east-a g4dn.xlarge spot, "), body
    assert "after InsufficientInstanceCapacity; spot: auto takes on-demand after 900s)" in body["note"], body
    assert len(body["offers"]) == 3 and _jobs(rt) == 0


def test_the_offers_view_names_the_model_meant(api: TestClient, admin: dict[str, str]) -> None:
    response = api.get("/v1/offers", params={"gpu": "A1OO:8"}, headers=admin)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_gpu"
    assert response.json()["error"]["message"].startswith("unknown GPU model 'A1OO'; did you mean A100?")
    items = api.get("/v1/offers", params={"gpu": "a100_80gb:8"}, headers=admin).json()["items"]
    assert items and {o["gpu_model"] for o in items} == {"A100-80GB"}
