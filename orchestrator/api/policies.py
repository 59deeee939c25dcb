"""/v1/policies: apply (admin), show, diff and history of the policy file. A refused file changes nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from orchestrator import policy_store
from orchestrator.api.deps import AdminDep, SessionDep, UserDep
from orchestrator.api.errors import ApiError
from orchestrator.policyfile import PolicyError
from orchestrator.priority_caps import clamp_queued

router = APIRouter(prefix="/v1/policies", tags=["policies"])


class PolicyText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=500_000)
    source: str = "policy file"


def _refused(exc: PolicyError) -> ApiError:
    return ApiError(422, "invalid_policy", "; ".join(exc.problems), exc.problems)


@router.post("")
def apply_policy(body: PolicyText, principal: AdminDep, session: SessionDep) -> dict[str, Any]:
    try:
        row, changed = policy_store.apply(session, body.text, applied_by=principal.token_id or "admin")
    except PolicyError as exc:
        raise _refused(exc) from None
    clamped = clamp_queued(session, policy_store.current_policy(session)) if changed else 0  # lowered max_priority
    return {"version": row.version, "changed": changed, "applied_at": row.applied_at.isoformat(),
            "priorities_lowered": clamped}


@router.post("/diff")
def diff_policy(body: PolicyText, principal: UserDep, session: SessionDep) -> dict[str, Any]:
    try:
        return {"diff": policy_store.diff(session, body.text)}
    except PolicyError as exc:
        raise _refused(exc) from None


@router.get("/current")
def show_policy(principal: UserDep, session: SessionDep) -> dict[str, Any]:
    row = policy_store.current(session)
    if row is None:
        return {"version": None, "text": "", "applied_at": None}
    return {"version": row.version, "text": row.text, "applied_at": row.applied_at.isoformat(),
            "applied_by": row.applied_by}


@router.get("/history")
def policy_history(principal: UserDep, session: SessionDep) -> dict[str, Any]:
    return {"items": [{"version": r.version, "sha256": r.sha256, "applied_at": r.applied_at.isoformat(),
                       "applied_by": r.applied_by} for r in policy_store.history(session)]}
