"""A bound on requests in progress, so that a request holding a database connection always gets a thread.

Why: sync endpoints and dependencies run on AnyIO's threadpool, and the request's transaction (deps.SessionDep)
holds its connection from the endpoint's first query until the commit, across one more thread hop (FastAPI
validates a sync endpoint's return value in the threadpool before function-scoped dependencies end). With more
requests in progress than threads, every thread could be blocked waiting for a connection (SQLite: its one pooled
connection; PostgreSQL: a full pool) while the requests holding the connections wait for a thread: a stall until
the 30 s pool timeout. Admitting at most API_THREADS requests at once (the threadpool's size, set by the daemon)
makes that impossible: each admitted request needs one thread at a time and one is always free for it. The rest
wait here, first come first served, in the event loop, holding nothing. A request leaves the bound when its
response starts (the transaction has committed by then), so slow readers of long responses do not hold it.
"""

from __future__ import annotations

import anyio
from anyio.lowlevel import RunVar
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.perloop import per_loop

API_THREADS = 16  # the request threadpool's size (orchestrator/daemon.py) and the in-flight bound

_semaphores: RunVar[dict[int, anyio.Semaphore]] = RunVar("spotwise_inflight")


class InFlightLimit:
    """ASGI middleware admitting at most `limit` HTTP requests at once (`limit <= 0`: no bound)."""

    def __init__(self, app: ASGIApp, limit: int = API_THREADS) -> None:
        self.app = app
        self.limit = limit

    def _semaphore(self) -> anyio.Semaphore:
        """One semaphore per event loop (tests start several loops over one app)."""
        return per_loop(_semaphores, self, lambda: anyio.Semaphore(self.limit, fast_acquire=True))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0:
            await self.app(scope, receive, send)
            return
        sem = self._semaphore()
        await sem.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                sem.release()

        async def send_releasing(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self.app(scope, receive, send_releasing)
        finally:
            release()
