"""The bootstrap token's one-use mark survives a daemon SIGKILL.

A real `spotwise serve` with the local provider: the job's agent (a real subprocess) exchanges its bootstrap token
with its local instance identity, as a cloud agent does with its metadata server's. A second holder of the token
is refused; the daemon is killed with SIGKILL and started again on the same database; the second holder is still
refused, while the running agent (which keeps its agent token in memory) goes on and the job succeeds.
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import httpx

from orchestrator.tokens import bootstrap_token
from tests.adversarial.keys import agent_key
from tests.e2e.clouds import wait_until
from tests.e2e.conftest import Daemon


def _exchange(daemon: Daemon, attempt_id: str, instance_id: str) -> httpx.Response:
    token = bootstrap_token(agent_key(daemon.home), attempt_id)  # as read from the instance's start-up data
    return httpx.post(f"{daemon.url}/v1/agent/bootstrap", timeout=10, json={
        "bootstrap_token": token, "claim": secrets.token_urlsafe(32),
        "identity": {"kind": "local", "instance_id": instance_id}})


def test_a_second_exchange_is_refused_before_and_after_a_sigkill(daemon: Daemon, tmp_path: Path) -> None:
    release = tmp_path / "release"  # the job runs until the test is done with the daemon (at most 120 s)
    run = f"for i in $(seq 600); do [ -f {release} ] && echo done && exit 0; sleep 0.2; done; exit 1"
    job_id = str(daemon.api("POST", "/v1/jobs", json={
        "name": "kill9-bootstrap", "run": run, "resources": {"accelerators": "T4:1"}})["id"])
    running = daemon.wait_for(job_id, {"RUNNING"}, timeout=60)  # the agent exchanged and reported in
    attempt_id = running["attempt_list"][0]["id"]
    [row] = [r for r in daemon.api("GET", "/v1/instances")["items"] if r["attempt_id"] == attempt_id]
    with sqlite3.connect(daemon.home / "spotwise.db") as db:
        claims = db.execute("SELECT instance_id, refused FROM bootstrap_claims WHERE attempt_id = ?",
                            (attempt_id,)).fetchall()
    assert claims == [(row["id"], 0)]

    first = _exchange(daemon, attempt_id, row["id"])
    assert first.status_code == 409 and "agent_token" not in first.text, first.text
    daemon.kill9()
    daemon.start()
    again = _exchange(daemon, attempt_id, row["id"])
    assert again.status_code == 409 and "agent_token" not in again.text, again.text
    release.touch()

    done = daemon.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout=90)
    assert done["state"] == "SUCCEEDED", done
    alerts = wait_until(lambda: [a for a in daemon.api("GET", "/v1/alerts")["items"]
                                 if a["kind"] == "agent.bootstrap_refused"] or None, "the refusal alerts")
    assert len(alerts) == 2
