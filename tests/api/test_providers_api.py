"""/v1/providers in-process: admin only, failures reported per provider, setup only where it exists.

Uses the local provider plus stand-ins, so the routes' own behaviour is checked without a cloud;
the cloud paths run end to end in tests/e2e/test_{aws,azure,gcp}_daemon.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.tokens import create_api_token
from providers.base import Capability, Identity
from providers.errors import AuthError, QuotaError
from providers.local import LocalProvider


class _BrokenCredentials(LocalProvider):
    """The local provider whose credential probe and setup fail as an expired cloud login would."""

    def check_credentials(self) -> Identity:
        raise AuthError("token expired; log in again", provider="broken")

    def setup_interruption_events(self) -> dict[str, str]:
        raise QuotaError("too many rules", provider="broken")


class _NeedsSetup(LocalProvider):
    capabilities = frozenset({Capability.SPOT, Capability.INTERRUPTION_EVENTS})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setups = 0

    def setup_interruption_events(self) -> dict[str, str]:
        self.setups += 1
        return {"region-1": "queue-url"}


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path, providers={"local": {}}))
    local = runtime.providers["local"]
    assert isinstance(local, LocalProvider)
    runtime.providers["broken"] = _BrokenCredentials.from_config({}, home=tmp_path / "b")
    runtime.providers["queued"] = _NeedsSetup.from_config({}, home=tmp_path / "q")
    runtime.provider_errors["gcp"] = "provider 'gcp' is not installed"
    yield runtime
    runtime.close()


@pytest.fixture
def headers(rt: Runtime) -> dict[str, dict[str, str]]:
    with transaction(rt.sessions) as s:
        _, admin = create_api_token(s, role="admin", team=None)
        _, team = create_api_token(s, role="team", team="a")
    return {"admin": {"Authorization": f"Bearer {admin}"}, "team": {"Authorization": f"Bearer {team}"}}


@pytest.fixture
def api(rt: Runtime) -> TestClient:
    return TestClient(create_app(rt))


def test_list_shows_loaded_and_failed_providers(api: TestClient, headers: dict[str, dict[str, str]]) -> None:
    items = {p["name"]: p for p in api.get("/v1/providers", headers=headers["admin"]).json()["items"]}
    assert set(items) == {"broken", "local", "queued", "gcp"}
    assert items["local"]["loaded"] and items["local"]["setup"] == []
    assert items["queued"]["setup"] == ["setup_interruption_events"]
    assert not items["gcp"]["loaded"] and "not installed" in items["gcp"]["error"]


def test_check_reports_each_provider_without_failing_the_request(
    api: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    response = api.get("/v1/providers/check", headers=headers["admin"])
    assert response.status_code == 200
    items = {p["name"]: p for p in response.json()["items"]}
    assert items["local"]["ok"] and items["local"]["account"]
    assert not items["broken"]["ok"] and "AuthError" in items["broken"]["error"]
    assert "log in again" in items["broken"]["error"]
    assert not items["gcp"]["ok"] and "failed to load" in items["gcp"]["error"]
    one = api.get("/v1/providers/check", params={"name": "local"}, headers=headers["admin"]).json()["items"]
    assert [p["name"] for p in one] == ["local"]


def test_setup_runs_where_supported_and_says_so_elsewhere(
    api: TestClient, rt: Runtime, headers: dict[str, dict[str, str]]
) -> None:
    done = api.post("/v1/providers/queued/setup", headers=headers["admin"]).json()
    assert done["setup"] == {"setup_interruption_events": {"region-1": "queue-url"}}
    api.post("/v1/providers/queued/setup", headers=headers["admin"])
    assert rt.providers["queued"].setups == 2  # type: ignore[attr-defined]
    assert "needs no setup" in api.post("/v1/providers/local/setup", headers=headers["admin"]).json()["message"]
    failed = api.post("/v1/providers/broken/setup", headers=headers["admin"])
    assert failed.status_code == 502 and "QuotaError" in failed.json()["error"]["message"]
    missing = api.post("/v1/providers/azure/setup", headers=headers["admin"])
    assert missing.status_code == 404 and "not configured" in missing.json()["error"]["message"]
    unloaded = api.post("/v1/providers/gcp/setup", headers=headers["admin"])
    assert unloaded.status_code == 409


def test_team_tokens_are_refused(api: TestClient, headers: dict[str, dict[str, str]]) -> None:
    for method, path in (("GET", "/v1/providers"), ("GET", "/v1/providers/check"),
                         ("POST", "/v1/providers/local/setup")):
        assert api.request(method, path, headers=headers["team"]).status_code == 403


def test_preflight_rows_per_provider_with_the_load_failure_as_a_row(
        api: TestClient, headers: dict[str, dict[str, str]]) -> None:
    body = api.get("/v1/providers/preflight", headers=headers["admin"]).json()
    rows = {(r["check"], r["provider"]): r for r in body["items"]}
    assert not body["ok"]
    assert rows[("credentials", "local")]["ok"] and rows[("credentials", "local")]["result"] == "ok"
    broken = rows[("credentials", "broken")]  # no preflight of its own: the credential probe stands in
    assert not broken["ok"] and "token expired" in broken["result"]
    assert rows[("load", "gcp")]["fix"].startswith("the provider did not load: provider 'gcp' is not installed")
    assert not [r for r in body["items"] if r["check"] == "public_url"]  # no cloud provider configured
    only = api.get("/v1/providers/preflight", params={"name": "local"}, headers=headers["admin"]).json()
    assert only["ok"] and {r["provider"] for r in only["items"]} == {"local"}
    assert api.get("/v1/providers/preflight", params={"name": "nope"}, headers=headers["admin"]).status_code == 404
    assert api.get("/v1/providers/preflight", headers=headers["team"]).status_code == 403
