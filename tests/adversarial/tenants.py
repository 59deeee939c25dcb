"""Two teams on one real daemon: the scaffolding of the isolation tests.

A `Tenants` is a started `spotwise serve` (SQLite, local provider) with an admin token and two team tokens,
`a` and `b`. Each test plays one team as the attacker and checks what the *other* team keeps: its job still
runs, its files, secrets and budgets stay unread. Kept out of conftest.py: other suites in this folder bring
their own scaffolding.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Daemon, running_daemon

FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
# The admin's opt-in to run team-token jobs as the daemon's user: for tests of the API's rules, on machines where
# the local provider cannot give each team its own user (test_local_isolation.py covers that)
TEAM_JOBS_AS_DAEMON_USER = {"SPOTWISE_PROVIDERS": json.dumps({"local": {"job_user": "daemon"}})}


@dataclass
class Tenants:
    daemon: Daemon
    tokens: dict[str, str]  # "admin", "a", "b" -> bearer token

    @property
    def url(self) -> str:
        return self.daemon.url

    @property
    def home(self) -> Path:
        return self.daemon.home

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request as `who` (a key of `tokens`, or a raw token), answer unchecked."""
        token = self.tokens.get(who, who)
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def ok(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(who, method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path} as {who}: {response.status_code} {response.text}"
        return response.json()

    def submit(self, who: str, spec: dict[str, Any]) -> str:
        return str(self.ok(who, "POST", "/v1/jobs", json=spec)["id"])

    def wait(self, who: str, job_id: str, states: set[str] = FINAL, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.ok(who, "GET", f"/v1/jobs/{job_id}")
            if job["state"] in states:
                return job
            assert time.monotonic() < deadline, f"job {job_id} stuck in {job['state']}: {job.get('reason')}"
            time.sleep(0.3)

    def logs(self, who: str, job_id: str) -> str:
        items = self.ok(who, "GET", f"/v1/jobs/{job_id}/logs", params={"limit": 10000})["items"]
        return "".join(i["data"] for i in items)

    def wait_log(self, who: str, job_id: str, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in (seen := self.logs(who, job_id)):
            assert time.monotonic() < deadline, f"{text!r} never appeared in {job_id}'s log: {seen[-2000:]}"
            time.sleep(0.3)
        return seen


@contextmanager
def two_teams(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[Tenants]:
    """A daemon in `home` with team tokens for teams a and b."""
    with running_daemon(home, extra_env) as daemon:
        tokens = {"admin": daemon.token}
        for team in ("a", "b"):
            tokens[team] = daemon.api("POST", "/v1/tokens", json={"team": team})["token"]
        yield Tenants(daemon, tokens)


def job(name: str, run: str, **extra: Any) -> dict[str, Any]:
    """A small CPU job on the local provider (T4:1 is the cheapest local shape)."""
    return {"name": name, "run": run, "resources": {"accelerators": "T4:1"}, **extra}
