"""Input validation audit (real app on a real SQLite file and, when configured, the real PostgreSQL): every bad
spec or query is a 4xx naming the field, never a 500, a silent accept, or a job that can never run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Job
from orchestrator.tokens import create_api_token

JOB: dict[str, Any] = {"name": "train", "run": "python train.py"}


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, max_request_bytes=50_000, database_url=db_url),
                            with_providers=False)
    yield runtime
    runtime.close()


@pytest.fixture
def admin(rt: Runtime) -> dict[str, str]:
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(rt: Runtime) -> TestClient:
    return TestClient(create_app(rt), raise_server_exceptions=False)


def _submit_error(api: TestClient, admin: dict[str, str], spec: dict[str, Any]) -> str:
    response = api.post("/v1/jobs", json=spec, headers=admin)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_spec"
    return str(error["message"])


@pytest.mark.parametrize(("spec", "expected"), [
    ({**JOB, "checkpoint": {"dir": "/c", "store": "ftp://x"}}, "checkpoint.store: 'ftp://x' is not a supported"),
    ({**JOB, "checkpoint": {"dir": "/c", "store": "s3://"}}, "checkpoint.store: 's3://' names no bucket"),
    ({**JOB, "checkpoint": {"dir": "/c", "store": "file://rel/x"}}, "checkpoint.store: 'file://rel/x': write"),
    ({**JOB, "checkpoint": {"dir": "relative"}}, "checkpoint.dir: 'relative' must be an absolute path"),
    ({**JOB, "restart_exit_codes": [75, 300]}, "restart_exit_codes: 300 is not an exit code; exit codes are 0 to 255"),
    ({**JOB, "resources": {"accelerators": "A100:99999999999999999999"}},
     "resources.accelerators: 99999999999999999999 GPUs per node is more than any instance has; ask for at most 16"),
    ({**JOB, "resources": {"clouds": ["ibm"]}},
     "resources.clouds: 'ibm' is not a provider this daemon has configured; configured: local"),
    ({**JOB, "name": "a\u0000b"}, "name: contains the control character U+0000"),
    ({**JOB, "deadline": "2020-01-01T00:00:00Z"}, "deadline: 2020-01-01T00:00:00+00:00 is already past (now 20"),
])
def test_specs_that_could_never_run_are_422_naming_the_field(api: TestClient, admin: dict[str, str],
                                                             spec: dict[str, Any], expected: str) -> None:
    assert expected in _submit_error(api, admin, spec)


def test_supported_specs_still_pass(api: TestClient, admin: dict[str, str]) -> None:
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    for store in ("s3://bucket/prefix", "gs://b", "az://container/p", "file:///shared/ckpt"):
        spec = {**JOB, "checkpoint": {"dir": "/ckpt", "store": store}, "restart_exit_codes": [0, 75, 255],
                "resources": {"accelerators": "A100:16", "clouds": ["local"], "max_price_per_hour": 2.5},
                "deadline": future}
        assert api.post("/v1/jobs", json=spec, headers=admin).status_code == 201


def test_non_finite_floats_are_422(api: TestClient, admin: dict[str, str]) -> None:
    body = b'{"name": "a", "run": "b", "resources": {"max_price_per_hour": 1e999, "memory_gb": 1e999}}'
    response = api.post("/v1/jobs", content=body, headers={**admin, "content-type": "application/json"})
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "resources.memory_gb: must be a finite number, not inf" in message
    assert "resources.max_price_per_hour: must be a finite number, not inf" in message


def test_a_stored_job_whose_deadline_passed_still_reads(api: TestClient, admin: dict[str, str], rt: Runtime) -> None:
    """The past-deadline rule is for submissions only: a stored spec whose deadline has passed still parses (the
    dashboard's slack uses its estimated_runtime: 1h less than the deadline alone)."""
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    spec = {**JOB, "deadline": soon, "estimated_runtime": "1h"}
    job_id = api.post("/v1/jobs", json=spec, headers=admin).json()["id"]
    past = datetime(2020, 1, 1, tzinfo=UTC)
    with transaction(rt.sessions) as s:
        job = s.scalars(select(Job).where(Job.id == job_id)).one()
        job.spec, job.deadline_at = {**job.spec, "deadline": past.isoformat()}, past
    shown = api.get(f"/v1/jobs/{job_id}", headers=admin)
    assert shown.status_code == 200 and shown.json()["spec"]["deadline"].startswith("2020")
    item = api.get("/v1/dashboard/jobs", headers=admin).json()["items"][0]
    assert item["slack_seconds"] < (past - datetime.now(UTC)).total_seconds() - 3000


def test_huge_log_cursor_is_422_not_500(api: TestClient, admin: dict[str, str]) -> None:
    job_id = api.post("/v1/jobs", json=JOB, headers=admin).json()["id"]
    for after in (2**63, 10**30):
        response = api.get(f"/v1/jobs/{job_id}/logs", params={"after": after}, headers=admin)
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"
    assert api.get(f"/v1/jobs/{job_id}/logs", params={"after": 2**63 - 1}, headers=admin).status_code == 200


def test_chunked_body_over_the_limit_is_413(api: TestClient, admin: dict[str, str]) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b" " * 100_000

    response = api.post("/v1/jobs", content=chunks(), headers={**admin, "content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"


def test_non_json_body_is_415(api: TestClient, admin: dict[str, str]) -> None:
    for headers in ({"content-type": "text/plain"}, {}):
        response = api.post("/v1/jobs", content=json.dumps(JOB), headers={**admin, **headers})
        assert response.status_code == 415, response.text
        assert "application/json" in response.json()["error"]["message"]
    typed = api.post("/v1/jobs", content=json.dumps(JOB),
                     headers={**admin, "content-type": "application/json; charset=utf-8"})
    assert typed.status_code == 201


def test_bad_json_names_line_and_column(api: TestClient, admin: dict[str, str]) -> None:
    response = api.post("/v1/jobs", content=b'{"name": "x",\n  "run": }', headers={**admin,
                                                                                "content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "request body is not valid JSON at line 2, column 10: Expecting value"


def test_a_repeated_key_in_a_json_spec_is_422(api: TestClient, admin: dict[str, str]) -> None:
    """JSON keeps the last of a repeated key: {"spot": true, "spot": false} ran on-demand without a word."""
    body = b'{"name": "dup", "run": "true", "resources": {"spot": true, "spot": false}}'
    response = api.post("/v1/jobs", content=body, headers={**admin, "content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {"code": "invalid_spec", "message": "duplicate key 'spot'; give each field once",
                                        "details": ["duplicate key 'spot'; give each field once"]}
    assert api.get("/v1/jobs", params={"name": "dup"}, headers=admin).json()["items"] == []


@pytest.mark.parametrize("limit", [-5, 0, 501])
def test_alert_limit_out_of_range_is_422(api: TestClient, admin: dict[str, str], limit: int) -> None:
    response = api.get("/v1/alerts", params={"limit": limit}, headers=admin)
    assert response.status_code == 422 and "limit" in response.json()["error"]["message"]


def test_secret_team_follows_the_team_name_rule(api: TestClient, admin: dict[str, str]) -> None:
    response = api.put("/v1/secrets/X", json={"value": "v", "team": "a b"}, headers=admin)
    assert response.status_code == 422 and "team" in response.json()["error"]["message"]
    assert api.put("/v1/secrets/X", json={"value": "v", "team": "a-b.c_d"}, headers=admin).status_code == 200


def test_the_last_active_admin_token_cannot_be_revoked(api: TestClient, admin: dict[str, str]) -> None:
    mine = next(t for t in api.get("/v1/tokens", headers=admin).json()["items"] if t["role"] == "admin")
    refused = api.post(f"/v1/tokens/{mine['id']}/revoke", headers=admin)
    assert refused.status_code == 409 and "last active admin token" in refused.json()["error"]["message"]
    assert api.get("/v1/jobs", headers=admin).status_code == 200  # still works
    other = api.post("/v1/tokens", json={"admin": True}, headers=admin).json()
    assert api.post(f"/v1/tokens/{mine['id']}/revoke", headers=admin).status_code == 200
    other_auth = {"Authorization": f"Bearer {other['token']}"}
    assert api.post(f"/v1/tokens/{other['id']}/revoke", headers=other_auth).status_code == 409


def test_costs_reject_a_reversed_range_with_api_parameter_names(api: TestClient, admin: dict[str, str]) -> None:
    reversed_range = api.get("/v1/costs", params={"since": "2026-02-01T00:00Z", "until": "2026-01-01T00:00Z"},
                             headers=admin)
    assert reversed_range.status_code == 422
    assert "since (2026-02-01T00:00:00+00:00) must be before until" in reversed_range.json()["error"]["message"]
    naive = api.get("/v1/costs", params={"since": "2026-01-01T00:00"}, headers=admin)
    message = naive.json()["error"]["message"]
    assert naive.status_code == 422 and "give since with a timezone" in message and "--" not in message


def test_deeply_nested_json_body_says_so(api: TestClient, admin: dict[str, str]) -> None:
    response = api.post("/v1/jobs", content=b"[" * 40_000, headers={**admin, "content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "request body is nested too deeply to parse"
