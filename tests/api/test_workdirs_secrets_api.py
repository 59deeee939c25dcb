"""Job code and secrets through the in-process API: secrets (names only, team scoped, only to the job's own agent), the
daemon's workdir store (digest checked, its own size limit), the agent's workdir download and restart report."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.jobs.attempts import create_attempt
from orchestrator.jobs.queue import job_by_id
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.types import utcnow
from orchestrator.tokens import agent_token, create_api_token
from providers.base import Offer
from tests.api.test_api import auth

SECRET = "hf_very_secret_value"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, max_request_bytes=50_000, workdir_max_bytes=200_000),
                            with_providers=False)
    yield runtime
    runtime.close()


@pytest.fixture
def tokens(rt: Runtime) -> dict[str, str]:
    with transaction(rt.sessions) as s:
        return {"admin": create_api_token(s, role="admin", team=None)[1],
                "a": create_api_token(s, role="team", team="a")[1], "b": create_api_token(s, role="team", team="b")[1]}


@pytest.fixture
def api(rt: Runtime) -> TestClient:
    return TestClient(create_app(rt))


def _attempt(rt: Runtime, job_id: str) -> tuple[str, str]:
    """An attempt for the job, recorded as the launcher does; (attempt id, its agent token)."""
    offer = Offer(cloud="aws", region="us-east-1", zone="us-east-1a", instance_type="g5.xlarge", gpu_model="A10G",
                  gpu_count=1, vcpus=4, memory_gb=16, spot=True, price_per_hour=0.5, price_fetched_at=utcnow())
    with transaction(rt.sessions) as s:
        attempt = create_attempt(s, job_by_id(s, job_id), offer)
        return attempt.id, agent_token(rt.agent_secret, attempt.id)


def test_only_the_jobs_agent_gets_secret_values_and_its_workdir(api: TestClient, tokens: dict[str, str],
                                                                 rt: Runtime) -> None:
    headers = auth(tokens["a"])
    api.put("/v1/secrets/WANDB_API_KEY", json={"value": SECRET}, headers=auth(tokens["admin"]))  # admin-wide
    api.put("/v1/secrets/HF_TOKEN", json={"value": SECRET}, headers=headers)
    data = b"archive bytes"
    digest = hashlib.sha256(data).hexdigest()
    api.put(f"/v1/workdirs/{digest}", content=data, headers=headers)
    spec = {"name": "t", "run": "true", "secrets": ["WANDB_API_KEY", "HF_TOKEN"], "image": "docker:ubuntu:22.04",
            "workdir_ref": {"digest": digest}, "file_mounts": {"/data": "s3://bucket/set"}}
    job_id = api.post("/v1/jobs", json=spec, headers=headers).json()["id"]
    other_id = api.post("/v1/jobs", json={"name": "o", "run": "true"}, headers=headers).json()["id"]
    attempt_id, token = _attempt(rt, job_id)
    other_attempt, other_token = _attempt(rt, other_id)
    got = api.get(f"/v1/agent/attempts/{attempt_id}/spec", headers=auth(token)).json()
    assert got["secrets"] == {"WANDB_API_KEY": SECRET, "HF_TOKEN": SECRET}
    assert got["image"] == "ubuntu:22.04" and got["file_mounts"] == {"/data": "s3://bucket/set"}
    assert got["workdir"]["digest"] == digest and got["prepare_error"] == ""
    assert api.get(f"/v1/agent/attempts/{other_attempt}/spec", headers=auth(other_token)).json()["secrets"] == {}
    for who in (other_token, tokens["a"], tokens["admin"]):  # another attempt's agent, users: never
        assert api.get(f"/v1/agent/attempts/{attempt_id}/spec", headers=auth(who)).status_code == 403
        assert api.get(f"/v1/agent/attempts/{attempt_id}/workdir", headers=auth(who)).status_code == 403
    download = api.get(f"/v1/agent/attempts/{attempt_id}/workdir", headers=auth(token))
    assert download.content == data and download.headers["x-spotwise-sha256"] == digest
    assert SECRET not in api.get(f"/v1/jobs/{job_id}", headers=headers).text
    api.delete("/v1/secrets/HF_TOKEN", headers=headers)  # removed after submission: the agent is told why
    later = api.get(f"/v1/agent/attempts/{attempt_id}/spec", headers=auth(token)).json()
    assert "HF_TOKEN" in later["prepare_error"] and later["secrets"] == {}
    assert api.post(f"/v1/agent/attempts/{attempt_id}/restarted", json={"restarts": 2},
                    headers=auth(token)).json()["ok"]
    events = api.get(f"/v1/jobs/{job_id}/events", headers=headers).json()["items"]
    assert any(e["kind"] == "agent_restart" and "restart 2" in e["reason"] for e in events)


def test_secrets_are_listed_by_name_only_and_team_scoped(api: TestClient, tokens: dict[str, str],
                                                         rt: Runtime) -> None:
    assert api.put("/v1/secrets/HF_TOKEN", json={"value": SECRET}, headers=auth(tokens["a"])).json()["created"]
    assert api.put("/v1/secrets/HF_TOKEN", json={"value": SECRET + "2"},
                   headers=auth(tokens["a"])).json()["created"] is False
    assert api.put("/v1/secrets/HF_TOKEN", json={"value": "x", "team": "a"},
                   headers=auth(tokens["b"])).status_code == 403
    listed = api.get("/v1/secrets", headers=auth(tokens["a"]))
    assert listed.json()["items"][0]["name"] == "HF_TOKEN" and SECRET not in listed.text
    assert api.get("/v1/secrets", headers=auth(tokens["b"])).json()["items"] == []
    stored = (rt.settings.home / "spotwise.db").read_bytes()
    assert SECRET.encode() not in stored  # encrypted at rest
    assert (rt.settings.home / "secrets.key").stat().st_mode & 0o777 == 0o600
    job = {"name": "t", "run": "true", "secrets": ["HF_TOKEN"]}
    refused = api.post("/v1/jobs", json=job, headers=auth(tokens["b"]))
    assert refused.status_code == 422 and "HF_TOKEN" in refused.text and "secrets set" in refused.text
    created = api.post("/v1/jobs", json=job, headers=auth(tokens["a"]))
    assert created.status_code == 201 and SECRET not in created.text
    assert api.delete("/v1/secrets/HF_TOKEN", headers=auth(tokens["a"])).json()["deleted"]


def test_workdir_upload_checks_the_digest_and_has_its_own_size_limit(api: TestClient, tokens: dict[str, str]) -> None:
    data = b"x" * 120_000  # over max_request_bytes, under workdir_max_bytes
    digest = hashlib.sha256(data).hexdigest()
    headers = auth(tokens["a"])
    assert api.get(f"/v1/workdirs/{digest}", headers=headers).status_code == 404
    wrong = api.put(f"/v1/workdirs/{'0' * 64}", content=data, headers=headers)
    assert wrong.status_code == 422 and digest in wrong.text
    assert api.put(f"/v1/workdirs/{digest}", content=data, headers=headers).json()["stored"] is True
    assert api.put(f"/v1/workdirs/{digest}", content=data, headers=headers).json()["stored"] is False
    assert api.get(f"/v1/workdirs/{digest}", headers=headers).status_code == 200
    assert api.put(f"/v1/workdirs/{digest}", content=b"y" * 250_000, headers=headers).status_code == 413
    assert api.post("/v1/jobs", content=b"{" + b" " * 60_000 + b"}", headers=headers).status_code == 413
    unsent = {"name": "t", "run": "true", "workdir": ".", "workdir_ref": {"digest": "1" * 64}}
    assert "never uploaded" in api.post("/v1/jobs", json=unsent, headers=headers).text
    assert "spotwise submit" in api.post("/v1/jobs", json={"name": "t", "run": "true", "workdir": "."},
                                         headers=headers).text
