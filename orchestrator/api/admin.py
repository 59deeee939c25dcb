"""Admin routes: API tokens, instances, and chaos (preempt a local spot instance on request)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from orchestrator.api.deps import AdminDep, RuntimeDep, SessionDep, token_cache
from orchestrator.api.errors import ApiError
from orchestrator.jobs.models import TEAM_PATTERN
from orchestrator.store.tables import ApiToken, Instance
from orchestrator.store.types import utcnow
from orchestrator.tokens import create_api_token
from providers.base import Capability
from providers.errors import ProviderError

router = APIRouter(prefix="/v1", tags=["admin"])


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: str | None = Field(default=None, min_length=1, max_length=64, pattern=TEAM_PATTERN)
    admin: bool = False
    name: str = Field(default="", max_length=128)
    expires_in_hours: float | None = Field(default=None, gt=0, le=24 * 3653)  # ten years (fuzz: overflow)

    @model_validator(mode="after")
    def _team_or_admin(self) -> TokenRequest:
        if self.admin == (self.team is not None):
            raise ValueError("give either a team (a team token) or admin=true (an admin token), not both")
        return self


def _token_view(row: ApiToken) -> dict[str, Any]:
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {"id": row.id, "name": row.name, "role": row.role, "team": row.team,
            "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "revoked_at": iso(row.revoked_at)}


@router.post("/tokens", status_code=201)
def create_token(body: TokenRequest, _: AdminDep, session: SessionDep) -> dict[str, Any]:
    expires: datetime | None = None
    if body.expires_in_hours:
        expires = utcnow() + timedelta(hours=body.expires_in_hours)
    row, plaintext = create_api_token(session, role="admin" if body.admin else "team", team=body.team,
                                      name=body.name, expires_at=expires)
    return {**_token_view(row), "token": plaintext}


@router.get("/tokens")
def list_tokens(_: AdminDep, session: SessionDep) -> dict[str, Any]:
    return {"items": [_token_view(r) for r in session.scalars(select(ApiToken).order_by(ApiToken.created_at))]}


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: str, _: AdminDep, session: SessionDep, request: Request) -> dict[str, Any]:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise ApiError(404, "not_found", f"token {token_id} not found")
    if row.role == "admin" and row.revoked_at is None and _active_admin_ids(session) == [row.id]:
        raise ApiError(409, "conflict", f"token {token_id} is the last active admin token; create another admin "
                       "token first (spotwise tokens create --admin), then revoke this one")
    row.revoked_at = row.revoked_at or utcnow()
    session.flush()
    # Refused on this replica from now on (a request racing this commit may re-cache it, for
    # TOKEN_CACHE_SECONDS at most), and on other replicas within TOKEN_CACHE_SECONDS.
    token_cache(request).clear()
    return _token_view(row)


def _active_admin_ids(session: Session) -> list[str]:
    """Unrevoked, unexpired admin tokens, row-locked (PostgreSQL) so two admins revoking each other at once cannot
    both pass. Why the rule: a restart issues no new admin token once one exists, so the last one is the way in."""
    now = utcnow()
    return list(session.scalars(
        select(ApiToken.id).where(ApiToken.role == "admin", ApiToken.revoked_at.is_(None),
                                  or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))
        .order_by(ApiToken.id).with_for_update()))


@router.get("/instances")
def list_instances(_: AdminDep, session: SessionDep, all: bool = False) -> dict[str, Any]:
    stmt = select(Instance).order_by(Instance.launched_at.desc()).limit(500)
    if not all:
        stmt = stmt.where(Instance.ended_at.is_(None))
    return {"items": [
        {"id": r.id, "provider": r.provider, "job_id": r.job_id, "attempt_id": r.attempt_id, "region": r.region,
         "zone": r.zone, "instance_type": r.instance_type, "spot": r.spot, "price_per_hour": r.price_per_hour,
         "state": r.state, "launched_at": r.launched_at.isoformat(),
         "ended_at": r.ended_at.isoformat() if r.ended_at else None, "preempted": r.preempted,
         "node": r.node}  # a gang node's rank
        for r in session.scalars(stmt)
    ]}


class PreemptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_seconds: float | None = Field(default=None, ge=0, le=600)


@router.post("/chaos/instances/{instance_id}/preempt")
def preempt_instance(instance_id: str, body: PreemptRequest, _: AdminDep, session: SessionDep,
                     rt: RuntimeDep) -> dict[str, Any]:
    """Reclaim a spot instance as its cloud would (providers that support it: local)."""
    row = session.scalar(select(Instance).where(Instance.id == instance_id))
    if row is None:
        raise ApiError(404, "not_found", f"instance {instance_id} not found")
    provider = rt.providers.get(row.provider)
    if provider is None or Capability.PREEMPT_ON_REQUEST not in provider.capabilities:
        raise ApiError(409, "not_supported", f"provider {row.provider} cannot preempt on request")
    try:
        info = provider.preempt(instance_id, body.grace_seconds)  # type: ignore[attr-defined]
    except ProviderError as exc:
        raise ApiError(409, "conflict", exc.message) from None
    return {"id": info.id, "state": info.state.value, "grace_seconds": body.grace_seconds}
