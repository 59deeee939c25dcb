"""/v1/policies: apply and diff (admin), show and history of the policy file. A refused file changes nothing.

A team token sees the policy as it applies to its team: the global rules and its own `team:` ones, never another
team's budgets, caps or idle rules (a diff shows the whole current file, so it is for admins only)."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.deps import AdminDep, SessionDep, UserDep
from orchestrator.api.errors import ApiError
from orchestrator.spending import policy_store
from orchestrator.spending.policy_preview import preview
from orchestrator.spending.policyfile import PolicyError, PolicyFile, parse_policy
from orchestrator.spending.priority_caps import clamp_queued
from orchestrator.store.types import utcnow

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
def diff_policy(body: PolicyText, principal: AdminDep, session: SessionDep) -> dict[str, Any]:
    try:
        text = policy_store.diff(session, body.text)
        effects = preview(session, parse_policy(body.text, body.source), utcnow())  # what it stops now
    except PolicyError as exc:
        raise _refused(exc) from None
    return {"diff": text, "effects": effects}


@router.get("/current")
def show_policy(principal: UserDep, session: SessionDep) -> dict[str, Any]:
    row = policy_store.current(session)
    if row is None:
        return {"version": None, "text": "", "applied_at": None}
    if not principal.is_admin:
        return {"version": row.version, "text": team_view(parse_policy(row.text, stored=True), principal.team or ""),
                "applied_at": row.applied_at.isoformat(), "scoped_to": f"team:{principal.team}"}
    return {"version": row.version, "text": row.text, "applied_at": row.applied_at.isoformat(),
            "applied_by": row.applied_by}


def team_view(policy: PolicyFile, team: str) -> str:
    """The policy as YAML with only the rules scoped `global` or `team:<team>`: what binds this team's jobs."""
    mine = ("global", f"team:{team}")
    data = policy.model_dump(mode="json")
    for section in ("budgets", "caps", "idle"):
        data[section] = [rule for rule in data[section] if rule.get("scope", "global") in mine]
    return yaml.safe_dump(data, sort_keys=False)


@router.get("/history")
def policy_history(principal: UserDep, session: SessionDep) -> dict[str, Any]:
    return {"items": [{"version": r.version, "sha256": r.sha256, "applied_at": r.applied_at.isoformat(),
                       "applied_by": r.applied_by} for r in policy_store.history(session)]}
