"""Per-token API rate limit: a token bucket per bearer token (per client address without one).

Why per token and not per address: every agent and CLI of a team may sit behind one NAT or load balancer,
and a leaked or runaway token should be throttled without starving the others. The key is a hash of the
token, so a plaintext token never sits in this process's memory longer than the request. Rejections are
429 JSON in the API's error shape with `Retry-After` (whole seconds, rounded up), so the CLI and agents
(which retry with backoff) slow down instead of failing. The bucket map is bounded (least recently used
keys are dropped) so a flood of random tokens cannot grow memory without limit.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.api.bearer import bearer_credential
from orchestrator.api.errors import error_body

MAX_KEYS = 10_000


class TokenBuckets:
    """`rate` tokens per second refill, `burst` at most; `take` answers 0 (allowed) or the seconds to wait."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        now = self.clock()
        level, last = self._buckets.pop(key, (self.burst, now))
        level = min(self.burst, level + (now - last) * self.rate)
        wait = 0.0
        if level >= 1.0:
            level -= 1.0
        else:
            wait = (1.0 - level) / self.rate
        self._buckets[key] = (level, now)
        while len(self._buckets) > MAX_KEYS:
            self._buckets.popitem(last=False)
        return wait


def _key(scope: Scope) -> str:
    """The caller's principal: its credential as authentication reads it (api/bearer.py), so every spelling of
    one token's header shares one bucket; without a readable credential, the client address."""
    headers = dict(scope.get("headers") or [])
    token = bearer_credential(headers.get(b"authorization", b"").decode("latin-1"))
    if token is not None:
        return "t:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    client = scope.get("client") or ("?", 0)
    return "a:" + str(client[0])


class RateLimit:
    """ASGI middleware; `rate <= 0` turns it off (settings `api_rate_limit_per_second` / `api_rate_limit_burst`)."""

    def __init__(self, app: ASGIApp, rate: float, burst: float) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst) if rate > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.buckets is None:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(_key(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, math.ceil(wait)))
        body = json.dumps(error_body("rate_limited", f"too many requests for this token; retry in {retry_after} s",
                                     [f"retry_after_seconds: {retry_after}"])).encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", retry_after.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
