"""The key that signs agent tokens is not in the database: a team that got hold of a database dump or backup
cannot forge an agent token and fetch another team's secrets. A database with the key still inside (an older
daemon's) is migrated: the key moves to a 0600 file, and agent tokens already handed out keep working."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from orchestrator.tokens import agent_token
from tests.adversarial.tenants import TEAM_JOBS_AS_DAEMON_USER, job, two_teams
from tests.e2e.conftest import running_daemon


def _meta(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "spotwise.db") as db:
        return dict(db.execute("SELECT key, value FROM meta").fetchall())


def test_a_database_dump_does_not_forge_agent_tokens(tmp_path: Path) -> None:
    with two_teams(tmp_path / "home", TEAM_JOBS_AS_DAEMON_USER) as t:
        t.ok("a", "PUT", "/v1/secrets/API_KEY", json={"value": "team-a-only"})
        done = t.wait("a", t.submit("a", job("a-job", "sleep 30", secrets=["API_KEY"])), {"RUNNING"})
        attempt = done["attempt_list"][-1]["id"]
        dumped = _meta(t.home)  # what team b would find in a stolen database file
        assert "agent_token_secret" not in dumped
        for value in dumped.values():
            try:
                forged = agent_token(bytes.fromhex(value), attempt)
            except ValueError:
                continue
            answer = t.call(forged, "GET", f"/v1/agent/attempts/{attempt}/spec")
            assert answer.status_code == 401 and "team-a-only" not in answer.text
        key = t.home / "agent-token.key"
        assert key.stat().st_mode & 0o777 == 0o600
        t.ok("admin", "POST", f"/v1/jobs/{done['id']}/cancel")


def test_a_key_held_in_the_database_moves_to_a_file_and_old_tokens_still_work(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_daemon(home):
        pass
    (home / "agent-token.key").unlink()
    legacy = "ab" * 32
    with sqlite3.connect(home / "spotwise.db") as db:  # as an older daemon left it
        db.execute("DELETE FROM meta WHERE key = 'agent_token_key_id'")
        db.execute("INSERT INTO meta (key, value) VALUES ('agent_token_secret', ?)", (legacy,))
    with running_daemon(home) as d:
        assert "agent_token_secret" not in _meta(home)
        assert (home / "agent-token.key").read_text().strip() == legacy
        old = agent_token(bytes.fromhex(legacy), "att-unknown")
        status = httpx.get(d.url + "/v1/agent/attempts/att-unknown/spec",
                           headers={"Authorization": f"Bearer {old}"}, timeout=10).status_code
        assert status == 404  # authenticated (no such attempt), not refused as a forged token (401)


def test_a_loose_existing_home_is_reported_at_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    with running_daemon(home):
        log = (home / "daemon.log").read_text()
    assert "home_permissions" in log and "chmod 700" in log, log[-2000:]
