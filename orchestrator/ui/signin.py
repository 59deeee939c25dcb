"""Routes of the one-time dashboard sign-in (`spotwise ui --open`): make a code, trade it for a session.

POST /v1/ui/signin-codes (any admin or team token) returns a code and the path that uses it. GET /ui/signin?code=
uses the code once and answers 303 to /ui/jobs: the URL the browser keeps (history, the next page's referrer)
no longer has the code. The new dashboard session token travels in a cookie that lives 60 s, only under /ui,
never sent cross-site, that the page's script moves into sessionStorage (where a pasted token lives) and deletes
at once (static/core.js); the API's only credential stays the bearer token. A refused code gets a small HTML page
saying why and how to get a new link, never a JSON error or a traceback in a browser tab. POST /v1/ui/signout
(the page's "Sign out") revokes a dashboard session token, so it is refused from then on wherever a copy of it is.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.bearer import bearer_credential
from orchestrator.api.deps import RuntimeDep, SessionDep, UserDep, token_cache
from orchestrator.api.errors import ApiError
from orchestrator.ui.signin_codes import (
    CODE_SECONDS,
    NEW_CODE_HINT,
    CodeRefused,
    end_session,
    issue_code,
    redeem_code,
)

router = APIRouter(tags=["dashboard"])
HANDOFF_COOKIE = "spotwise_signin"  # read and deleted by static/core.js on the first page it lands on
LANDING = "/ui/jobs"
NO_STORE = {"Cache-Control": "no-store"}


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: int = Field(default=CODE_SECONDS, ge=1, le=CODE_SECONDS, description="how long the code is valid")


@router.post("/v1/ui/signin-codes", status_code=201)
def make_code(principal: UserDep, session: SessionDep, rt: RuntimeDep,
              body: CodeRequest | None = None) -> dict[str, Any]:
    """A one-time code that signs a browser into the dashboard as the caller (same role and team).

    `url` is set when the daemon has a configured public_url; otherwise the client joins `path` to the URL it
    used to reach the daemon."""
    try:
        code, expires_at = issue_code(session, principal, (body or CodeRequest()).seconds)
    except ValueError as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    path = "/ui/signin?code=" + quote(code, safe="")
    public = rt.settings.public_url.rstrip("/")
    return {"code": code, "expires_at": expires_at.isoformat(), "path": path,
            "url": public + path if public else None}


def refused_page(message: str, status: int) -> HTMLResponse:
    """The page a refused link shows: what happened and how to get a new link."""
    body = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in link refused · Spotwise</title>
<link rel="stylesheet" href="/ui/static/app.css"></head>
<body><main id="main" class="signin-refused">
<h1>Sign-in link refused</h1>
<p id="why">{html.escape(message)}</p>
<p>To get a new link, {html.escape(NEW_CODE_HINT)}. Or <a href="{LANDING}">sign in with an API token</a>.</p>
</main></body></html>
"""
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


@router.get("/ui/signin", include_in_schema=False, response_model=None)
def use_code(request: Request, session: SessionDep, code: str = "") -> HTMLResponse | RedirectResponse:
    """Trade a one-time code for a dashboard session, then redirect to a URL without the code."""
    if not code:
        return refused_page("This sign-in link has no code.", 400)
    try:
        plaintext, _row = redeem_code(session, code)
    except CodeRefused as exc:  # the used mark (if any) still commits: a refused code stays refused
        return refused_page(str(exc), 400 if exc.reason == "unknown" else 410)
    answer = RedirectResponse(LANDING, status_code=303, headers=NO_STORE)
    answer.set_cookie(HANDOFF_COOKIE, plaintext, max_age=60, path="/ui", samesite="strict",
                      secure=request.url.scheme == "https", httponly=False)
    return answer


@router.post("/v1/ui/signout")
def sign_out(request: Request, _: UserDep, session: SessionDep) -> dict[str, bool]:
    """End the caller's dashboard session: its token is revoked (`revoked`: true). A pasted API token is left
    valid (`revoked`: false): the page only forgets it (orchestrator/ui/signin_codes.py `end_session` says why)."""
    token = bearer_credential(request.headers.get("authorization", "")) or ""
    revoked = end_session(session, token)
    if revoked:
        token_cache(request).clear()  # refused on this replica at once, on others within the cache's TTL
    return {"revoked": revoked}
