"""Request body size limit (413), enforced on the declared length and on the bytes actually read."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.errors import error_body


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}  # path prefix -> its own limit (workdir uploads)

    def _limit(self, scope: Scope) -> int:
        path = str(scope.get("path", ""))
        return next((n for prefix, n in self.overrides.items() if path.startswith(prefix)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(send, limit)
            return
        seen = 0
        too_big = rejected = started = False

        async def limited_receive() -> Message:
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_big = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            """Once the body ran over, whatever the app answers is replaced by the 413: FastAPI catches our
            _TooLarge while reading a (chunked, undeclared-length) body and answered 400 'error parsing the body'."""
            nonlocal rejected, started
            if not too_big or (started and not rejected):  # a response already under way goes out as it is
                started = started or message["type"] == "http.response.start"
                await send(message)
            elif not rejected and message["type"] == "http.response.start":
                rejected = started = True
                await self._reject(send, limit)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not started:
                await self._reject(send, limit)

    async def _reject(self, send: Send, limit: int) -> None:
        body = json.dumps(error_body("too_large", f"request body over {limit} bytes")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
