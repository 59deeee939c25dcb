"""One-time dashboard sign-in links (`spotwise ui --open`), over real HTTP against a real daemon.

What must hold: a link signs in once, as its maker's role and team; a second use, an expired link and a replay
after a daemon restart are refused with a page that says how to get a new link; the redirect leaves a URL without
the code; the session token travels in a short-lived /ui cookie, never in a URL, and signing out revokes it (a
pasted API token stays valid); the CLI prints the link when no TTY is there to open a browser.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from orchestrator.ui.signin_codes import SESSION_NAME
from tests.adversarial.tenants import TEAM_JOBS_AS_DAEMON_USER, Tenants, job, two_teams


@pytest.fixture(scope="module")
def teams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    with two_teams(tmp_path_factory.mktemp("signin") / "home", TEAM_JOBS_AS_DAEMON_USER) as tenants:
        yield tenants


def new_link(teams: Tenants, who: str, **body: int) -> dict[str, str]:
    answer = teams.call(who, "POST", "/v1/ui/signin-codes", json=body)
    assert answer.status_code == 201, answer.text
    data: dict[str, str] = answer.json()
    assert data["path"].startswith("/ui/signin?code=") and data["code"] in data["path"]
    return data


def open_link(url: str, path: str) -> httpx.Response:
    """What a browser's first request does with the link (redirects not followed: the test reads them)."""
    return httpx.get(url + path, follow_redirects=False, timeout=30)


def session_of(answer: httpx.Response) -> str:
    """The dashboard session token handed over in the sign-in cookie, after checking how the cookie is set."""
    assert answer.status_code == 303, answer.text
    header = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")}
    assert attributes["path"].lower() == "path=/ui" and attributes["samesite"].lower() == "samesite=strict"
    assert attributes["max-age"].lower() == "max-age=60"
    token = answer.cookies["spotwise_signin"]
    assert token.startswith("sw_")
    return token


def refused(answer: httpx.Response, status: int, why: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert why in answer.text and "spotwise ui --open" in answer.text
    assert "Traceback" not in answer.text and "set-cookie" not in answer.headers


def test_a_link_signs_in_once_and_the_redirect_drops_the_code(teams: Tenants) -> None:
    link = new_link(teams, "admin")
    first = open_link(teams.url, link["path"])
    token = session_of(first)
    location = first.headers["location"]
    assert urlsplit(location).path == "/ui/jobs" and "code" not in location and link["code"] not in location
    assert first.headers["cache-control"] == "no-store" and first.headers["referrer-policy"] == "no-referrer"
    assert token not in location and link["code"] != token
    landing = httpx.get(teams.url + location, timeout=30)
    assert landing.status_code == 200 and "data-page=\"jobs\"" in landing.text
    assert teams.ok(token, "GET", "/v1/dashboard/me") == {"role": "admin", "team": None}

    refused(open_link(teams.url, link["path"]), 410, "already used")
    refused(open_link(teams.url, "/ui/signin?code=swc_not-a-code"), 400, "not valid")
    refused(open_link(teams.url, "/ui/signin"), 400, "no code")


def test_an_expired_link_is_refused(teams: Tenants) -> None:
    link = new_link(teams, "a", seconds=1)
    expires = datetime.fromisoformat(link["expires_at"])
    while datetime.now(expires.tzinfo) <= expires:
        time.sleep(0.2)
    time.sleep(0.2)
    refused(open_link(teams.url, link["path"]), 410, "expired")
    too_long = teams.call("a", "POST", "/v1/ui/signin-codes", json={"seconds": 3600})
    assert too_long.status_code == 422 and "seconds" in too_long.text


def test_a_team_link_shows_that_team_only(teams: Tenants) -> None:
    mine = teams.submit("a", job("a-job", "sleep 0.1"))
    theirs = teams.submit("b", job("b-job", "sleep 0.1"))
    token = session_of(open_link(teams.url, new_link(teams, "a")["path"]))
    assert teams.ok(token, "GET", "/v1/dashboard/me") == {"role": "team", "team": "a"}
    listed = {j["id"] for j in teams.ok(token, "GET", "/v1/dashboard/jobs")["items"]}
    assert mine in listed and theirs not in listed
    assert teams.call(token, "GET", f"/v1/jobs/{theirs}").status_code == 404
    assert teams.call(token, "GET", "/v1/dashboard/jobs", params={"team": "b"}).status_code in (403, 404)


def test_a_revoked_tokens_link_is_refused(teams: Tenants) -> None:
    made = teams.ok("admin", "POST", "/v1/tokens", json={"team": "a", "name": "short-lived"})
    link = new_link(teams, made["token"])
    teams.ok("admin", "POST", f"/v1/tokens/{made['id']}/revoke")
    refused(open_link(teams.url, link["path"]), 410, "revoked")


def test_signing_out_revokes_the_session_so_the_old_token_is_refused(teams: Tenants) -> None:
    """The dashboard's "Sign out" posts /v1/ui/signout: the session token from the handoff cookie is revoked at once,
    so any copy of it (the cookie, another tab) is refused; the token that made the link is untouched."""
    token = session_of(open_link(teams.url, new_link(teams, "a")["path"]))
    assert teams.ok(token, "GET", "/v1/dashboard/me") == {"role": "team", "team": "a"}
    assert teams.ok(token, "POST", "/v1/ui/signout") == {"revoked": True}
    for method, path in (("GET", "/v1/dashboard/me"), ("GET", "/v1/dashboard/jobs"), ("POST", "/v1/ui/signout")):
        after = teams.call(token, method, path)
        assert after.status_code == 401 and "revoked" in after.text, (path, after.text)
    assert teams.ok("a", "GET", "/v1/dashboard/me") == {"role": "team", "team": "a"}


def test_signing_out_with_a_pasted_api_token_leaves_it_valid(teams: Tenants) -> None:
    """A token pasted into the sign-in form is the user's own API token (their CLI uses it too): sign-out only
    forgets it in the tab, and the daemon says it revoked nothing."""
    made = teams.ok("admin", "POST", "/v1/tokens", json={"team": "a", "name": f"{SESSION_NAME} (pasted)"})
    for pasted in (teams.tokens["a"], made["token"]):
        assert teams.ok(pasted, "POST", "/v1/ui/signout") == {"revoked": False}
        assert teams.ok(pasted, "GET", "/v1/dashboard/me") == {"role": "team", "team": "a"}


def test_the_cli_prints_a_working_link_when_no_tty(teams: Tenants) -> None:
    for flags in (("--print-url",), ("--open",), ()):
        result = teams.daemon.cli("ui", *flags, token=teams.tokens["b"])
        assert result.returncode == 0, result.stderr + result.stdout
        url = result.stdout.strip()
        assert url.startswith(teams.url + "/ui/signin?code=swc_"), result.stdout
        assert teams.tokens["b"] not in url
        token = session_of(httpx.get(url, follow_redirects=False, timeout=30))
        assert teams.ok(token, "GET", "/v1/dashboard/me") == {"role": "team", "team": "b"}
    both = teams.daemon.cli("ui", "--open", "--print-url")
    assert both.returncode == 2 and "not both" in both.stderr + both.stdout and "Traceback" not in both.stderr


def test_a_used_link_stays_used_after_a_restart(tmp_path: Path) -> None:
    with two_teams(tmp_path / "home", TEAM_JOBS_AS_DAEMON_USER) as tenants:
        used = new_link(tenants, "a")
        session_of(open_link(tenants.url, used["path"]))
        unused = new_link(tenants, "a")
        tenants.daemon.stop()
        tenants.daemon.start()
        refused(open_link(tenants.url, used["path"]), 410, "already used")
        session_of(open_link(tenants.url, unused["path"]))  # the restart itself voids nothing


def test_a_browser_signs_in_with_a_link_and_keeps_neither_the_code_nor_the_cookie(
        teams: Tenants, browser: Any) -> None:
    """The page's part: it takes the session from the handoff cookie, deletes the cookie, and stays signed in;
    its "Sign out" revokes the session token."""
    from playwright.sync_api import expect

    ctx = browser.new_context()
    page = ctx.new_page()
    link = new_link(teams, "a")
    page.goto(teams.url + link["path"])
    page.locator("#who").wait_for(state="visible")
    expect(page.locator("#who-text")).to_have_text("team a")
    assert page.url == teams.url + "/ui/jobs"
    assert "spotwise_signin" not in page.evaluate("document.cookie")
    assert page.evaluate("sessionStorage.getItem('spotwise.token')").startswith("sw_")
    page.reload()
    page.locator("#who").wait_for(state="visible")  # the session lives in the tab, like a pasted token
    token = page.evaluate("sessionStorage.getItem('spotwise.token')")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('spotwise.token')") is None
    assert teams.call(token, "GET", "/v1/dashboard/me").status_code == 401  # revoked, not only forgotten
    page.goto(teams.url + link["path"])
    expect(page.locator("#why")).to_contain_text("already used")
    ctx.close()
