"""Browser security headers on every answer: no framing, no content sniffing, scripts only from the daemon.

Why: the dashboard keeps an API token in the tab; a page that can be framed (clickjacking) or that runs a script
injected from elsewhere would hand that token over. The policy allows only the daemon's own scripts, styles and
API (`'self'`): the dashboard has no inline script. /docs (Swagger UI) gets its own policy that also allows the
configured asset origin and, by hash, the one inline script FastAPI renders (api/docs.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_FIXED = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
          (b"referrer-policy", b"no-referrer"))


class SecurityHeaders:
    """ASGI middleware; `per_path` gives a path its own Content-Security-Policy (exact path match)."""

    def __init__(self, app: ASGIApp, per_path: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.per_path = dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.per_path.get(scope.get("path", ""), CSP).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in (*_FIXED, (b"content-security-policy", policy)) if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
