"""Secrets never leave the daemon: a real `spotwise serve` with a cloud key in its environment, a webhook URL
carrying a token, an HMAC secret and an SMTP password is driven through its API (including failing alert
deliveries, bad requests and errors), and its log, every API response and the CLI's output are grepped."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from orchestrator.cli.demo import free_port
from tests.e2e.conftest import Daemon

pytestmark = pytest.mark.e2e

SECRETS = {"AWS_SECRET_ACCESS_KEY": "awsSECRETkey0123456789abcdefXYZ", "url_token": "hookURLtoken5f3a9",
           "hmac": "hmacSECRET77c1", "smtp": "smtpPASSWORD42x"}


def test_no_secret_in_logs_responses_or_errors(tmp_path: Path) -> None:
    sinks = {"hook": {"type": "webhook", "url": f"http://127.0.0.1:1/h?token={SECRETS['url_token']}",
                      "secret": SECRETS["hmac"]},
             "mail": {"type": "smtp", "host": "127.0.0.1", "port": 1, "username": "u", "password": SECRETS["smtp"],
                      "sender": "a@example.com", "to": ["b@example.com"]}}
    d = Daemon(home=tmp_path / "home", port=free_port(), extra_env={
        "AWS_SECRET_ACCESS_KEY": SECRETS["AWS_SECRET_ACCESS_KEY"], "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "SPOTWISE_ALERT_SINKS": json.dumps(sinks), "SPOTWISE_ALERT_MAX_TRIES": "2",
        "SPOTWISE_ALERT_BASE_BACKOFF_SECONDS": "0.2", "SPOTWISE_LOG_LEVEL": "debug"})
    d.home.mkdir()
    d.start()
    seen: list[str] = []
    try:
        admin = d.token
        h = {"Authorization": f"Bearer {admin}"}
        created = httpx.post(d.url + "/v1/tokens", json={"team": "a"}, headers=h, timeout=30).json()
        team_token = created["token"]
        calls = [("POST", "/v1/alerts/test", {"sink": "hook"}), ("POST", "/v1/alerts/test", {"sink": "mail"}),
                 ("GET", "/v1/alerts", None), ("GET", "/v1/tokens", None), ("GET", "/v1/providers", None),
                 ("GET", "/v1/providers/check", None), ("GET", "/v1/jobs/nope", None), ("GET", "/openapi.json", None),
                 ("POST", "/v1/jobs", {"name": "x", "run": "true", "env": {"K": "v"}, "bogus": 1}),
                 ("GET", "/v1/dashboard/me", None), ("GET", "/metrics", None)]
        for method, path, body in calls:
            for headers in (h, {"Authorization": f"Bearer {team_token}"}, {"Authorization": "Bearer sw_wrong"}):
                seen.append(httpx.request(method, d.url + path, json=body, headers=headers, timeout=60).text)
        seen += [d.cli("alerts", "list").stdout, d.cli("alerts", "test", "hook").stdout + d.cli("alerts", "test",
                 "hook").stderr, d.cli("tokens", "list").stdout]
    finally:
        d.stop()
    seen.append((d.home / "daemon.log").read_text())
    blob = "\n".join(seen)
    assert "sink hook" in blob or "hook" in blob  # the deliveries really ran (and failed)
    leaked = {name for name, value in SECRETS.items() if value in blob}
    leaked |= {"team token"} if team_token in blob else set()  # shown once, at creation only
    leaked |= {"admin token"} if admin in blob else set()
    assert not leaked, f"secrets found in output: {sorted(leaked)}"
