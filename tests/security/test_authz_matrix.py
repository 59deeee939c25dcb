"""Authorization matrix over EVERY route of the app: each route has a class, each class an expected answer
for each kind of caller. A route added without a class fails `test_every_route_is_classified`, so a new
endpoint cannot ship with access rules nobody decided on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount, Route

from orchestrator.api import create_app
from orchestrator.config import Settings
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.types import utcnow
from orchestrator.tokens import agent_token, bootstrap_token, create_api_token

PUBLIC, ADMIN, USER, JOB, AGENT = "public", "admin", "user", "job", "agent"
OWN_ATTEMPT = "att-own-0001"

# (METHOD, path) -> class. PUBLIC: no token needed; ADMIN: admin only; USER: admin and any team;
# JOB: a job of team a (team b gets 404, as if it did not exist); AGENT: only that attempt's agent token.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): PUBLIC, ("GET", "/docs"): PUBLIC, ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/healthz"): PUBLIC, ("GET", "/metrics"): PUBLIC,
    ("GET", "/ui"): PUBLIC, ("GET", "/ui/"): PUBLIC, ("GET", "/ui/jobs"): PUBLIC,
    ("GET", "/ui/jobs/{job_id}"): PUBLIC,
    ("GET", "/ui/instances"): PUBLIC, ("GET", "/ui/spend"): PUBLIC, ("GET", "/ui/alerts"): PUBLIC,
    ("GET", "/ui/offers"): PUBLIC, ("GET", "/ui/static/{name}"): PUBLIC,
    ("GET", "/ui/signin"): PUBLIC, ("POST", "/v1/ui/signin-codes"): USER,  # the code is the credential there
    ("POST", "/v1/ui/signout"): USER,
    ("GET", "/v1/jobs"): USER, ("POST", "/v1/jobs"): USER,
    ("GET", "/v1/jobs/{job_id}"): JOB, ("POST", "/v1/jobs/{job_id}/cancel"): JOB,
    ("GET", "/v1/jobs/{job_id}/events"): JOB, ("GET", "/v1/jobs/{job_id}/checkpoints"): JOB,
    ("GET", "/v1/jobs/{job_id}/logs"): JOB,
    ("GET", "/v1/agent/attempts/{attempt_id}/spec"): AGENT,
    ("POST", "/v1/agent/attempts/{attempt_id}/heartbeat"): AGENT,
    ("POST", "/v1/agent/attempts/{attempt_id}/logs"): AGENT, ("POST", "/v1/agent/attempts/{attempt_id}/exit"): AGENT,
    ("POST", "/v1/agent/attempts/{attempt_id}/checkpoint"): AGENT,
    # the once-only exchange: its credential is the bootstrap token in the body (test_bootstrap_exchange.py)
    ("POST", "/v1/agent/bootstrap"): PUBLIC,
    ("GET", "/v1/agent/attempts/{attempt_id}/wheel"): AGENT, ("GET", "/v1/agent/attempts/{attempt_id}/workdir"): AGENT,
    ("POST", "/v1/agent/attempts/{attempt_id}/restarted"): AGENT,
    ("POST", "/v1/agent/attempts/{attempt_id}/gang"): AGENT,  # gang rendezvous
    ("GET", "/v1/secrets"): USER, ("PUT", "/v1/secrets/{name}"): USER, ("DELETE", "/v1/secrets/{name}"): USER,
    ("GET", "/v1/workdirs/{digest}"): USER, ("PUT", "/v1/workdirs/{digest}"): USER,
    ("GET", "/v1/tokens"): ADMIN, ("POST", "/v1/tokens"): ADMIN, ("POST", "/v1/tokens/{token_id}/revoke"): ADMIN,
    ("GET", "/v1/instances"): ADMIN, ("POST", "/v1/chaos/instances/{instance_id}/preempt"): ADMIN,
    ("GET", "/v1/providers"): ADMIN, ("GET", "/v1/providers/check"): ADMIN, ("GET", "/v1/providers/preflight"): ADMIN,
    ("POST", "/v1/providers/{name}/setup"): ADMIN,
    ("GET", "/v1/costs"): USER, ("POST", "/v1/policies"): ADMIN, ("POST", "/v1/policies/diff"): ADMIN,
    ("GET", "/v1/policies/current"): USER, ("GET", "/v1/policies/history"): USER,
    ("GET", "/v1/alerts"): USER, ("POST", "/v1/alerts/test"): ADMIN,
    ("GET", "/v1/offers"): USER, ("GET", "/v1/catalog"): USER, ("POST", "/v1/catalog/import"): ADMIN,
    ("GET", "/v1/dashboard/me"): USER, ("GET", "/v1/dashboard/jobs"): USER, ("GET", "/v1/dashboard/spend"): USER,
    ("GET", "/v1/dashboard/budgets"): USER, ("GET", "/v1/dashboard/instances"): USER,
}

BODIES: dict[str, Any] = {
    "/v1/jobs": {"name": "m", "run": "true", "resources": {"accelerators": "T4:1"}},
    "/v1/agent/attempts/{attempt_id}/heartbeat": {}, "/v1/agent/attempts/{attempt_id}/logs": {"chunks": []},
    "/v1/agent/attempts/{attempt_id}/exit": {"exit_code": 0},
    "/v1/agent/attempts/{attempt_id}/checkpoint": {"event": "uploaded", "version": "000001", "files": 0, "bytes": 0},
    "/v1/tokens": {"team": "c"}, "/v1/policies": {"text": "{}"}, "/v1/policies/diff": {"text": "{}"},
    "/v1/alerts/test": {"sink": "log"}, "/v1/agent/attempts/{attempt_id}/restarted": {"restarts": 1},
    "/v1/agent/attempts/{attempt_id}/gang": {"ip": "10.0.0.1"},
    "/v1/secrets/{name}": {}, "/v1/chaos/instances/{instance_id}/preempt": {},
}
CALLERS = ["admin", "team_a", "team_b", "agent_other", "agent_own", "bootstrap_own", "none", "expired", "revoked"]


def all_routes(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
    """Every (method, path), through included routers and mounts (FastAPI may wrap included routers)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from all_routes(inner.routes)
        elif isinstance(route, Mount):
            yield from (("GET", route.path + p) for _, p in all_routes(route.routes))
        elif isinstance(route, Route):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                yield method, route.path


def expected(cls: str, caller: str) -> str:
    """'allow' (anything but 401/403/5xx), or the exact status."""
    if cls == PUBLIC:
        return "allow"
    if caller in ("none", "expired", "revoked"):
        return "401"
    if caller == "bootstrap_own":  # a bootstrap token as a bearer: nothing but the wheel, and not for a stranger
        return "403"
    if cls == AGENT:
        return "allow" if caller == "agent_own" else "403"
    if caller.startswith("agent"):
        return "403"
    if cls == ADMIN:
        return "allow" if caller == "admin" else "403"
    if cls == JOB and caller == "team_b":
        return "404"
    return "allow"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(home=tmp_path), with_providers=False)
    yield runtime
    runtime.close()


@pytest.fixture
def app(rt: Runtime) -> FastAPI:
    return create_app(rt)


def test_every_route_is_classified(app: FastAPI) -> None:
    found = set(all_routes(app.routes))
    missing = sorted(found - set(ROUTES))
    assert not missing, f"routes without an authorization class (add them to ROUTES): {missing}"
    assert not sorted(set(ROUTES) - found), "ROUTES lists routes the app no longer has"


def test_authorization_matrix(app: FastAPI, rt: Runtime) -> None:
    with transaction(rt.sessions) as s:
        tokens = {"admin": create_api_token(s, role="admin", team=None)[1],
                  "team_a": create_api_token(s, role="team", team="a")[1],
                  "team_b": create_api_token(s, role="team", team="b")[1],
                  "expired": create_api_token(s, role="admin", team=None,
                                              expires_at=utcnow() - timedelta(seconds=1))[1]}
        revoked_row, tokens["revoked"] = create_api_token(s, role="admin", team=None)
        revoked_row.revoked_at = utcnow()
        spare_id = create_api_token(s, role="team", team="z")[0].id
    tokens["agent_other"] = agent_token(rt.agent_secret, "att-someone-else")
    tokens["agent_own"] = agent_token(rt.agent_secret, OWN_ATTEMPT)
    tokens["bootstrap_own"] = bootstrap_token(rt.agent_secret, OWN_ATTEMPT)  # OWN_ATTEMPT has no row here
    api = TestClient(app)
    job_id = api.post("/v1/jobs", json=BODIES["/v1/jobs"], headers={"Authorization": f"Bearer {tokens['team_a']}"}
                      ).json()["id"]
    values = {"job_id": job_id, "attempt_id": OWN_ATTEMPT, "token_id": spare_id, "instance_id": "i-none",
              "name": "local", "name_static": "app.js", "digest": "0" * 64}
    wrong: list[str] = []
    for (method, template), cls in sorted(ROUTES.items()):
        path = template.replace("{name}", values["name_static"] if "/static/" in template else values["name"])
        for key, value in values.items():
            path = path.replace("{" + key + "}", value)
        for caller in CALLERS:
            headers = {} if caller == "none" else {"Authorization": f"Bearer {tokens[caller]}"}
            kwargs: dict[str, Any] = {"json": BODIES.get(template, {})} if method in ("POST", "PUT") else {}
            status = api.request(method, path, headers=headers, **kwargs).status_code
            want = expected(cls, caller)
            ok = status < 500 and (status not in (401, 403) if want == "allow" else str(status) == want)
            if not ok:
                wrong.append(f"{method} {template} as {caller}: {status}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_agent_token_reports_only_for_its_attempt(app: FastAPI, rt: Runtime) -> None:
    api = TestClient(app)
    token = agent_token(rt.agent_secret, OWN_ATTEMPT)
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    for tok, path, want in [(token, "/v1/agent/attempts/att-other/exit", 403),
                            (forged, f"/v1/agent/attempts/{OWN_ATTEMPT}/exit", 401)]:
        response = api.post(path, json={"exit_code": 0}, headers={"Authorization": f"Bearer {tok}"})
        assert response.status_code == want, response.text
