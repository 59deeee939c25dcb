"""/v1/agent/attempts/{id}/wheel|workdir|restarted: what an instance fetches to become the job's machine.

All three take the attempt's agent token, so a wheel, a workdir or a restart report is served only to an
instance Spotwise launched for that very attempt. The wheel is also served for the attempt's bootstrap token while
the attempt is active and within the token's TTL (used or not): the start-up script downloads the agent before the
agent can exchange that token, and the wheel is the daemon's own code, not a secret of the job's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from orchestrator.api.agent import _own_attempt
from orchestrator.api.agent_tokenlife import live_agent_token
from orchestrator.api.deps import PrincipalDep, RuntimeDep, SessionDep
from orchestrator.api.errors import ApiError
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import ACTIVE
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import job_by_id
from orchestrator.provisioning.agentwheel import WheelUnavailable, agent_wheel
from orchestrator.runtime import Runtime
from orchestrator.store.tables import Attempt
from orchestrator.store.types import utcnow
from orchestrator.tokens import Principal
from orchestrator.workdir import store

router = APIRouter(prefix="/v1/agent/attempts/{attempt_id}", tags=["agent"],
                   dependencies=[Depends(live_agent_token)])  # honoured while active, then a short grace


class RestartReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    restarts: int = Field(ge=1, le=10_000)
    message: str = Field(default="", max_length=500)


def _wheel_caller(session: Session, principal: Principal, attempt_id: str, rt: Runtime) -> None:
    """The attempt's agent, or its start-up script with the bootstrap token while that is still good."""
    if principal.role != "bootstrap":
        _own_attempt(session, principal, attempt_id)
        return
    attempt = session.get(Attempt, attempt_id)
    if principal.attempt_id != attempt_id or attempt is None:
        raise ApiError(403, "forbidden", "this token is not the bootstrap token of that attempt")
    ttl = rt.settings.bootstrap_token_ttl_seconds
    if attempt.state not in ACTIVE or utcnow() - (attempt.launched_at or attempt.created_at) > timedelta(seconds=ttl):
        raise ApiError(401, "unauthenticated", f"attempt {attempt_id} is {attempt.state}; its bootstrap token is "
                       f"good while it is active and for {ttl:g} s after its launch")


@router.get("/wheel")
def download_wheel(attempt_id: str, principal: PrincipalDep, session: SessionDep, rt: RuntimeDep) -> FileResponse:
    _wheel_caller(session, principal, attempt_id, rt)
    try:
        wheel = agent_wheel(rt.settings)
    except WheelUnavailable as exc:
        raise ApiError(503, "unavailable", str(exc)) from None
    return FileResponse(wheel.path, media_type="application/octet-stream", filename=wheel.name,
                        headers={"X-Spotwise-Sha256": wheel.sha256})


@router.get("/workdir")
def download_workdir(attempt_id: str, principal: PrincipalDep, session: SessionDep, rt: RuntimeDep) -> FileResponse:
    attempt = _own_attempt(session, principal, attempt_id)
    ref = JobSpec.model_validate(job_by_id(session, attempt.job_id).spec).workdir_ref
    if ref is None or ref.store != store.DAEMON:
        raise ApiError(404, "not_found", "this job has no workdir in the daemon store")
    path = rt.settings.home / store.workdir_key(ref.digest)
    if not path.is_file():
        raise ApiError(404, "not_found", f"workdir {ref.digest} is missing from {path.parent}")
    return FileResponse(path, media_type="application/gzip", headers={"X-Spotwise-Sha256": ref.digest})


@router.post("/restarted")
def report_restart(attempt_id: str, body: RestartReport, principal: PrincipalDep,
                   session: SessionDep) -> dict[str, Any]:
    """The start-up script's supervisor restarted a crashed agent; the job's events say so."""
    attempt = _own_attempt(session, principal, attempt_id)
    reason = f"agent restarted after a crash (restart {body.restarts})" + (f": {body.message}" if body.message else "")
    T.record_event(session, attempt.job_id, reason, kind="agent_restart", attempt_id=attempt.id)
    return {"ok": True}
