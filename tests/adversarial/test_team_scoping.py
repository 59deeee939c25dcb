"""What one team's token may read of another's, and what reaches `docker run` or a browser.

A workdir archive is reusable only by a team that uploaded it; an image reference that is really an option is
refused at submit; a team sees its own budgets and limits, not the others'; every answer carries the headers
that keep the dashboard out of frames and scripts from elsewhere, and /docs loads from where the admin says.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

from tests.adversarial.tenants import TEAM_JOBS_AS_DAEMON_USER, job, two_teams

POLICY = """
budgets:
  - {name: a-secret-project, scope: "team:a", period: monthly, limit_usd: 777}
  - {name: b-budget, scope: "team:b", period: monthly, limit_usd: 55}
  - {name: everyone, scope: global, period: monthly, limit_usd: 10000}
caps:
  - {scope: "team:a", max_price_per_hour: 31.5}
"""


def _archive() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        data = b"print('team a code')\n"
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def test_a_workdir_is_reusable_only_by_its_uploaders(tmp_path: Path) -> None:
    archive = _archive()
    digest = hashlib.sha256(archive).hexdigest()
    ref = {"digest": digest, "store": "daemon", "bytes": len(archive), "files": 1}
    # the job runs as the daemon's user (the admin's opt-in): what is checked here is the API's scoping
    with two_teams(tmp_path / "home", TEAM_JOBS_AS_DAEMON_USER) as t:
        t.ok("a", "PUT", f"/v1/workdirs/{digest}", content=archive)
        assert t.call("b", "GET", f"/v1/workdirs/{digest}").status_code == 404
        stolen = t.call("b", "POST", "/v1/jobs", json=job("reuse", "python3 train.py", workdir=".", workdir_ref=ref))
        assert stolen.status_code == 422, stolen.text
        assert t.call("a", "GET", f"/v1/workdirs/{digest}").status_code == 200
        own = t.wait("a", t.submit("a", job("own", "python3 train.py", workdir=".", workdir_ref=ref)))
        assert own["state"] == "SUCCEEDED", own.get("reason")
        assert "team a code" in t.logs("a", own["id"])
        # uploading the same bytes proves b has them: then b may use them too
        t.ok("b", "PUT", f"/v1/workdirs/{digest}", content=archive)
        assert t.call("b", "GET", f"/v1/workdirs/{digest}").status_code == 200


def test_an_image_that_is_an_option_is_refused(tmp_path: Path) -> None:
    with two_teams(tmp_path / "home") as t:
        for image in ("docker:--privileged", "docker:-v/:/host", "docker:ubuntu --privileged", "docker:UPPER/case",
                      "docker:a..b", "docker:"):
            answer = t.call("b", "POST", "/v1/jobs", json=job("x", "true", image=image))
            assert answer.status_code == 422, (image, answer.text)
            assert "image" in answer.text
        for image in ("docker:python:3.12-slim", "docker:nvidia/cuda:12.4.1-base-ubuntu22.04",
                      "docker:registry.example.com:5000/team/img@sha256:" + "a" * 64, "docker:localhost/x_y__z"):
            answer = t.call("a", "POST", "/v1/jobs", json=job("ok", "true", image=image))
            assert answer.status_code == 201, (image, answer.text)
            t.ok("a", "POST", f"/v1/jobs/{answer.json()['id']}/cancel")


def test_a_team_sees_its_own_budgets_and_limits_only(tmp_path: Path) -> None:
    with two_teams(tmp_path / "home") as t:
        t.ok("admin", "POST", "/v1/policies", json={"text": POLICY})
        seen = t.ok("b", "GET", "/v1/policies/current")
        assert "b-budget" in seen["text"] and "everyone" in seen["text"]
        assert "a-secret-project" not in seen["text"] and "777" not in seen["text"] and "31.5" not in seen["text"]
        diff = t.call("b", "POST", "/v1/policies/diff", json={"text": "{}"})
        assert "a-secret-project" not in diff.text
        assert "a-secret-project" in t.ok("a", "GET", "/v1/policies/current")["text"]
        assert "a-secret-project" in t.ok("admin", "GET", "/v1/policies/current")["text"]


def test_every_answer_carries_the_browser_security_headers(tmp_path: Path) -> None:
    mirror = "https://mirror.example.internal/swagger-ui"
    with two_teams(tmp_path / "home", {"SPOTWISE_DOCS_ASSETS_URL": mirror}) as t:
        for who, path in (("a", "/v1/jobs"), ("a", "/ui/jobs"), ("a", "/healthz"), ("a", "/v1/nope"),
                          ("b", "/ui/static/core.js"), ("a", "/docs")):
            headers = t.call(who, "GET", path).headers
            assert headers.get("x-frame-options") == "DENY", path
            assert headers.get("x-content-type-options") == "nosniff", path
            csp = headers.get("content-security-policy", "")
            assert "frame-ancestors 'none'" in csp and "default-src" in csp, (path, csp)
            assert "unsafe-inline" not in csp.split("script-src")[-1].split(";")[0], (path, csp)
        ui = t.call("a", "GET", "/ui/jobs")
        assert "<script>" not in ui.text  # the CSP forbids inline scripts: the page has none
        docs = t.call("a", "GET", "/docs")
        assert mirror in docs.text and "cdn.jsdelivr.net" not in docs.text
        assert mirror.split("/swagger")[0] in docs.headers["content-security-policy"]
