"""A real daemon shared by two teams, for the fault-containment tests: one team's broken input, the other's outcome.

`shared_daemon(home, database_url)` starts `spotwise serve` (SQLite in its home, or the given PostgreSQL database
through the home's config.yaml) and hands out a `Tenants` with a token of team a and one of team b.
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
from sqlalchemy import Engine, create_engine, text

from tests.adversarial.tenants import TEAM_JOBS_AS_DAEMON_USER
from tests.e2e.conftest import Daemon, running_daemon

FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


@dataclass
class Tenants:
    daemon: Daemon
    tokens: dict[str, str]  # team -> its token
    database_url: str

    def call(self, team: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self.daemon.token if team == "admin" else self.tokens[team]
        return httpx.request(method, self.daemon.url + path, headers={"Authorization": f"Bearer {token}"},
                             timeout=60, **kwargs)

    def submit(self, team: str, spec: dict[str, Any]) -> httpx.Response:
        return self.call(team, "POST", "/v1/jobs", json=spec)

    def submit_ok(self, team: str, spec: dict[str, Any]) -> str:
        response = self.submit(team, spec)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def job(self, team: str, job_id: str) -> dict[str, Any]:
        response = self.call(team, "GET", f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def wait_final(self, team: str, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(team, job_id)
            if job["state"] in FINAL:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} of team {team} still {job['state']} after {timeout:g}s: "
                                     f"{json.dumps(job)[:600]}\n--- daemon log tail:\n{self.log_tail()}")
            time.sleep(0.2)

    def events(self, team: str, job_id: str) -> list[dict[str, Any]]:
        response = self.call(team, "GET", f"/v1/jobs/{job_id}/events")
        assert response.status_code == 200, response.text
        body = response.json()
        return list(body["items"] if isinstance(body, dict) else body)

    def logs(self, team: str, job_id: str) -> str:
        out: list[str] = []
        cursor = 0
        while True:
            response = self.call(team, "GET", f"/v1/jobs/{job_id}/logs", params={"after": cursor, "limit": 10000})
            assert response.status_code == 200, response.text
            body = response.json()
            out.extend(item["data"] for item in body["items"])
            if not body["items"]:
                return "".join(out)
            cursor = body["cursor"]

    def engine(self) -> Engine:
        return create_engine(self.database_url)

    def pool_blocks(self) -> list[tuple[str, str]]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return [(str(k), str(r)) for k, r in conn.execute(text("SELECT key, reason FROM pool_blocks"))]
        finally:
            engine.dispose()

    def log_tail(self, lines: int = 30) -> str:
        path = self.daemon.home / "daemon.log"
        if not path.exists():
            return ""
        return "\n".join(x[:300] for x in path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def shared_daemon(home: Path, database_url: str | None = None) -> Iterator[Tenants]:
    """A daemon with tokens for teams a and b; SQLite in `home` unless `database_url` (PostgreSQL) is given."""
    home.mkdir(parents=True, exist_ok=True)
    if database_url:
        (home / "config.yaml").write_text(f"database_url: {database_url}\n")
    url = database_url or f"sqlite:///{home / 'spotwise.db'}"
    # These tests are about containment, not local isolation: team jobs run as the daemon's user even where a root
    # daemon could not isolate teams (tests/adversarial/test_local_isolation.py covers that).
    with running_daemon(home, TEAM_JOBS_AS_DAEMON_USER) as daemon:
        tokens = {team: str(daemon.api("POST", "/v1/tokens", json={"team": team})["token"]) for team in ("a", "b")}
        yield Tenants(daemon, tokens, url)
