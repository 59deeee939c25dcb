"""/v1/secrets: job secrets by name. Values go in, never come out: listings show names only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.deps import RuntimeDep, SessionDep, UserDep
from orchestrator.api.errors import ApiError
from orchestrator.jobs import secrets as jobsecrets
from orchestrator.jobs.models import TEAM_PATTERN
from orchestrator.tokens import Principal

router = APIRouter(prefix="/v1/secrets", tags=["secrets"])
NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


class SecretValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=65536)
    team: str | None = Field(default=None, min_length=1, max_length=64, pattern=TEAM_PATTERN)  # as specs, tokens


def _scope(principal: Principal, team: str | None) -> str:
    """A team token acts on its own team; an admin on a named team or, without one, the admin-wide scope."""
    if principal.is_admin:
        return team or jobsecrets.GLOBAL
    if team is not None and team != principal.team:
        raise ApiError(403, "forbidden", f"a token of team {principal.team!r} cannot touch team {team!r}'s secrets")
    return str(principal.team)


def _check_name(name: str) -> None:
    import re

    if not re.match(NAME, name):
        raise ApiError(422, "invalid_name", f"secret name {name!r} must be a variable name (letters, digits, _)")


@router.put("/{name}")
def put_secret(name: str, body: SecretValue, principal: UserDep, session: SessionDep, rt: RuntimeDep) -> dict[str, Any]:
    _check_name(name)
    scope = _scope(principal, body.team)
    created = jobsecrets.set_secret(session, rt.settings.home, scope, name, body.value)
    return {"name": name, "scope": scope, "created": created}


@router.get("")
def get_secrets(principal: UserDep, session: SessionDep, team: str | None = None) -> dict[str, Any]:
    scopes = None if principal.is_admin and team is None else [_scope(principal, team), jobsecrets.GLOBAL]
    rows = jobsecrets.list_secrets(session, scopes)
    return {"items": [{"name": n, "scope": s, "updated_at": u.isoformat()} for s, n, u in rows]}


@router.delete("/{name}")
def remove_secret(name: str, principal: UserDep, session: SessionDep, team: str | None = None) -> dict[str, Any]:
    scope = _scope(principal, team)
    if not jobsecrets.delete_secret(session, scope, name):
        raise ApiError(404, "not_found", f"no secret {name!r} in scope {scope!r}")
    return {"name": name, "scope": scope, "deleted": True}
