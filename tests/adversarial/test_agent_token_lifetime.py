"""An agent token outlives its attempt by a short grace only, and never fetches secrets once the attempt ended.

Team a's job uses a secret and ends; its agent token (as if it leaked from the ended instance) then asks for the
spec after team a rotated the secret, ships logs and heartbeats: within the grace it gets no secret, after it
nothing at all. Team b's own job is unaffected throughout.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.adversarial.keys import leaked_token
from tests.adversarial.tenants import TEAM_JOBS_AS_DAEMON_USER, job, two_teams

GRACE = 3.0


def test_an_ended_attempts_token_gets_no_secrets_and_expires(tmp_path: Path) -> None:
    env = {"SPOTWISE_AGENT_TOKEN_GRACE_SECONDS": str(GRACE), **TEAM_JOBS_AS_DAEMON_USER}
    with two_teams(tmp_path / "home", env) as t:
        t.ok("a", "PUT", "/v1/secrets/DB_PASSWORD", json={"value": "first-value"})
        done = t.wait("a", t.submit("a", job("uses-secret", "echo ok", secrets=["DB_PASSWORD"])))
        assert done["state"] == "SUCCEEDED"
        attempt = done["attempt_list"][-1]["id"]
        t.ok("a", "PUT", "/v1/secrets/DB_PASSWORD", json={"value": "rotated-value"})
        token = leaked_token(t.home, attempt)
        base = f"/v1/agent/attempts/{attempt}"

        spec = t.call(token, "GET", base + "/spec")  # ended, still within the grace: no secrets, told to stop
        assert "first-value" not in spec.text and "rotated-value" not in spec.text, spec.text
        assert spec.status_code == 401 or spec.json().get("active") is False

        time.sleep(GRACE + 1.5)
        for method, path, body in (("GET", "/spec", None), ("POST", "/logs", {"chunks": [
                {"stream": "stdout", "seq": 999, "data": "forged line"}]}), ("POST", "/heartbeat", {}),
                ("POST", "/exit", {"exit_code": 1})):
            answer = t.call(token, method, base + path, json=body)
            assert answer.status_code == 401, f"{method} {path}: {answer.status_code} {answer.text}"
            assert "rotated-value" not in answer.text
        assert "forged line" not in t.logs("a", done["id"])
        other = t.wait("b", t.submit("b", job("b-runs", "echo fine")))
        assert other["state"] == "SUCCEEDED"
