"""Request-scoped dependencies: the runtime, a database transaction, and who is calling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio.to_thread
from anyio import CancelScope, CapacityLimiter
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from orchestrator.api.bearer import bearer_credential
from orchestrator.api.errors import ApiError
from orchestrator.runtime import Runtime
from orchestrator.store.db import transaction
from orchestrator.tokens import (
    AGENT_PREFIX,
    BOOTSTRAP_PREFIX,
    Principal,
    TokenCache,
    TokenRejected,
    authenticate_agent_token,
    authenticate_bootstrap_token,
)

# The small dependencies below are `async def` on purpose: they do no I/O, and a sync one costs a threadpool hop
# per request (the submit path made seven hops; a 2-core machine felt each).


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.rt  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(rt: RuntimeDep) -> AsyncIterator[Session]:
    """The request's transaction. Opening it does no I/O (the connection is taken at the first query, in the
    endpoint's worker thread), so it opens here in the event loop: one threadpool hop fewer per request.
    Commit or rollback runs in a thread of its own limiter, shielded from cancellation, as FastAPI does for sync
    dependencies: it releases the connection, so it must never wait for a request thread, nor be skipped. An
    endpoint may commit itself at its end, which saves the commit's hop too. (Submissions use no request
    transaction at all: api/submitbatch.py commits them in batches.)"""
    unit = transaction(rt.sessions)
    session = unit.__enter__()
    try:
        yield session
    except BaseException as exc:
        with CancelScope(shield=True):
            await anyio.to_thread.run_sync(unit.__exit__, type(exc), exc, exc.__traceback__,
                                           limiter=CapacityLimiter(1))
        raise
    if not session.in_transaction():  # the endpoint committed in its own thread: closing does no I/O
        unit.__exit__(None, None, None)
        return
    with CancelScope(shield=True):
        await anyio.to_thread.run_sync(unit.__exit__, None, None, None, limiter=CapacityLimiter(1))


# scope="function": commit BEFORE the response is sent (FastAPI's default for yield dependencies ends them after
# it). Otherwise a daemon killed between the two acknowledges a job or an exit report it never stored (the
# chaos harness lost 3 acknowledged submissions in 20 SIGKILLs that way).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def token_cache(request: Request) -> TokenCache:
    """The app's cache of accepted API tokens (made on first use, so an app built without create_app works)."""
    cache: TokenCache | None = getattr(request.app.state, "token_cache", None)
    if cache is None:
        cache = request.app.state.token_cache = TokenCache()
    return cache


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if not header:
        raise ApiError(401, "unauthenticated", "missing bearer token: send 'Authorization: Bearer <token>' "
                       "(the CLI reads SPOTWISE_TOKEN)")
    token = bearer_credential(header)  # the rate limit reads it the same way (api/bearer.py)
    if token is None:
        raise ApiError(401, "unauthenticated", "malformed Authorization header; expected 'Bearer <token>'")
    return token


async def get_principal(request: Request, rt: RuntimeDep) -> Principal:
    token = _bearer(request)
    try:
        if token.startswith(AGENT_PREFIX):
            return authenticate_agent_token(rt.agent_secret, token)  # an HMAC: no I/O
        if token.startswith(BOOTSTRAP_PREFIX):  # only the wheel download takes it (api/agent_bootstrap.py)
            return authenticate_bootstrap_token(rt.agent_secret, token)
        cache = token_cache(request)
        hit = cache.get(token)
        if hit is not None:
            return hit
        # Its own short transaction, never the request's: endpoints that open their own transaction deadlocked
        # when it was the request's. In a worker thread: it waits for the database.
        return await run_in_threadpool(cache.authenticate, rt.sessions, token)
    except TokenRejected as exc:
        raise ApiError(401, "unauthenticated", str(exc)) from None


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_user(principal: PrincipalDep) -> Principal:
    if principal.role not in ("admin", "team"):
        raise ApiError(403, "forbidden", "agent tokens may only use the agent API")
    return principal


async def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "this needs an admin token")
    return principal


UserDep = Annotated[Principal, Depends(require_user)]
AdminDep = Annotated[Principal, Depends(require_admin)]
