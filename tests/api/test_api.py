"""The API in-process (real app, real SQLite file): auth, team isolation, errors, limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.tokens import agent_token, create_api_token

JOB = {"name": "train", "run": "python train.py", "resources": {"accelerators": "A100:8"}}


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, max_request_bytes=50_000), with_providers=False)
    yield runtime
    runtime.close()


@pytest.fixture
def tokens(rt: Runtime) -> dict[str, str]:
    with transaction(rt.sessions) as s:
        _, admin = create_api_token(s, role="admin", team=None)
        _, team_a = create_api_token(s, role="team", team="a")
        _, team_b = create_api_token(s, role="team", team="b")
    return {"admin": admin, "a": team_a, "b": team_b}


@pytest.fixture
def api(rt: Runtime) -> TestClient:
    return TestClient(create_app(rt))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_missing_and_unknown_tokens_are_401_with_json(api: TestClient) -> None:
    for headers in ({}, auth("sw_nope"), {"Authorization": "Basic abc"}):
        response = api.get("/v1/jobs", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_team_token_submits_into_its_team_and_cannot_see_others(api: TestClient, tokens: dict[str, str]) -> None:
    created = api.post("/v1/jobs", json=JOB, headers=auth(tokens["a"]))
    assert created.status_code == 201 and created.json()["team"] == "a"
    job_id = created.json()["id"]
    assert api.get(f"/v1/jobs/{job_id}", headers=auth(tokens["a"])).status_code == 200
    other = api.get(f"/v1/jobs/{job_id}", headers=auth(tokens["b"]))
    assert other.status_code == 404 and job_id in other.json()["error"]["message"]
    assert api.post(f"/v1/jobs/{job_id}/cancel", headers=auth(tokens["b"])).status_code == 404
    assert api.get(f"/v1/jobs/{job_id}/logs", headers=auth(tokens["b"])).status_code == 404
    assert api.get("/v1/jobs", headers=auth(tokens["b"])).json()["items"] == []
    assert [j["id"] for j in api.get("/v1/jobs", headers=auth(tokens["admin"])).json()["items"]] == [job_id]


def test_team_token_cannot_act_for_another_team_or_as_admin(api: TestClient, tokens: dict[str, str]) -> None:
    response = api.post("/v1/jobs", json={**JOB, "team": "b"}, headers=auth(tokens["a"]))
    assert response.status_code == 403 and "team 'b'" in response.json()["error"]["message"]
    assert api.get("/v1/jobs", params={"team": "b"}, headers=auth(tokens["a"])).status_code == 403
    assert api.post("/v1/tokens", json={"team": "a"}, headers=auth(tokens["a"])).status_code == 403
    assert api.get("/v1/instances", headers=auth(tokens["a"])).status_code == 403


def test_bad_specs_are_422_naming_the_field(api: TestClient, tokens: dict[str, str]) -> None:
    cases = {
        "resources.accelerators": {**JOB, "resources": {"accelerators": "A100:-1"}},
        "unknown field 'gpus'": {**JOB, "gpus": 8},
        "run: this field is required": {"name": "x"},
        "valid fields are": {**JOB, "resources": {"gpu": "A100"}},
    }
    for expected, body in cases.items():
        response = api.post("/v1/jobs", json=body, headers=auth(tokens["admin"]))
        assert response.status_code == 422, body
        assert expected in response.json()["error"]["message"]
    not_json = api.post("/v1/jobs", content=b"{nope", headers={**auth(tokens["admin"]),
                                                                 "content-type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["error"]["code"] == "invalid_request"


def test_oversized_body_is_413(api: TestClient, tokens: dict[str, str]) -> None:
    body = {**JOB, "env": {"BIG": "x" * 60_000}}
    response = api.post("/v1/jobs", json=body, headers=auth(tokens["admin"]))
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_cancel_then_cancel_again_is_409(api: TestClient, tokens: dict[str, str]) -> None:
    job_id = api.post("/v1/jobs", json=JOB, headers=auth(tokens["admin"])).json()["id"]
    assert api.post(f"/v1/jobs/{job_id}/cancel", headers=auth(tokens["admin"])).json()["state"] == "CANCELLED"
    again = api.post(f"/v1/jobs/{job_id}/cancel", headers=auth(tokens["admin"]))
    assert again.status_code == 409 and "already CANCELLED" in again.json()["error"]["message"]
    events = api.get(f"/v1/jobs/{job_id}/events", headers=auth(tokens["admin"])).json()["items"]
    assert [(e["from"], e["to"]) for e in events] == [(None, "PENDING"), ("PENDING", "CANCELLED")]


def test_revoked_and_expired_tokens_are_refused(api: TestClient, rt: Runtime, tokens: dict[str, str]) -> None:
    made = api.post("/v1/tokens", json={"team": "c"}, headers=auth(tokens["admin"])).json()
    assert api.get("/v1/jobs", headers=auth(made["token"])).status_code == 200
    api.post(f"/v1/tokens/{made['id']}/revoke", headers=auth(tokens["admin"]))
    revoked = api.get("/v1/jobs", headers=auth(made["token"]))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
    from datetime import timedelta

    from orchestrator.store.types import utcnow

    with transaction(rt.sessions) as s:
        _, old = create_api_token(s, role="team", team="c", expires_at=utcnow() - timedelta(seconds=1))
    expired = api.get("/v1/jobs", headers=auth(old))
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]


def test_agent_token_is_scoped_to_its_attempt(api: TestClient, rt: Runtime, tokens: dict[str, str]) -> None:
    token = agent_token(rt.agent_secret, "j-1-1")
    assert api.get("/v1/jobs", headers=auth(token)).status_code == 403
    wrong = api.post("/v1/agent/attempts/j-2-1/heartbeat", json={}, headers=auth(token))
    assert wrong.status_code == 403
    forged = api.post("/v1/agent/attempts/j-1-1/heartbeat", json={}, headers=auth(token[:-4] + "0000"))
    assert forged.status_code == 401
    assert api.post("/v1/agent/attempts/j-1-1/heartbeat", json={}, headers=auth(tokens["admin"])).status_code == 403


def test_health_metrics_and_openapi(api: TestClient, tokens: dict[str, str]) -> None:
    assert api.get("/healthz").json()["status"] == "ok"
    api.post("/v1/jobs", json=JOB, headers=auth(tokens["admin"]))
    metrics = api.get("/metrics").text
    assert 'spotwise_jobs{state="PENDING"} 1.0' in metrics
    assert "/v1/jobs" in api.get("/openapi.json").json()["paths"]
    assert api.get("/docs").status_code == 200
