"""Request-scoped dependencies: the runtime, a database transaction, and who is calling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from orchestrator.api.errors import ApiError
from orchestrator.runtime import Runtime
from orchestrator.store.db import transaction
from orchestrator.tokens import (
    AGENT_PREFIX,
    Principal,
    TokenRejected,
    authenticate_agent_token,
    authenticate_api_token,
)


def get_runtime(request: Request) -> Runtime:
    return request.app.state.rt  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(rt: RuntimeDep) -> Iterator[Session]:
    with transaction(rt.sessions) as session:
        yield session


# scope="function": commit BEFORE the response is sent (FastAPI's default for yield dependencies ends them after
# it). Otherwise a daemon killed between the two acknowledges a job or an exit report it never stored (issue 12:
# the chaos harness lost 3 acknowledged submissions in 20 SIGKILLs that way).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(401, "unauthenticated", "missing bearer token: send 'Authorization: Bearer <token>' "
                       "(the CLI reads SPOTWISE_TOKEN)")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "malformed Authorization header; expected 'Bearer <token>'")
    return token.strip()


def get_principal(request: Request, rt: RuntimeDep) -> Principal:
    token = _bearer(request)
    try:
        if token.startswith(AGENT_PREFIX):
            return authenticate_agent_token(rt.agent_secret, token)
        with transaction(rt.sessions) as session:
            return authenticate_api_token(session, token)
    except TokenRejected as exc:
        raise ApiError(401, "unauthenticated", str(exc)) from None


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_user(principal: PrincipalDep) -> Principal:
    if principal.role not in ("admin", "team"):
        raise ApiError(403, "forbidden", "agent tokens may only use the agent API")
    return principal


def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "this needs an admin token")
    return principal


UserDep = Annotated[Principal, Depends(require_user)]
AdminDep = Annotated[Principal, Depends(require_admin)]
