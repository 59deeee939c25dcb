"""/v1/agent/attempts/{id}/wheel|workdir|restarted: what an instance fetches to become the job's machine (issue 13).

All three take the attempt's agent token, so a wheel, a workdir or a restart report is served only to an
instance Spotwise launched for that very attempt.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from orchestrator import transitions as T
from orchestrator.agentwheel import WheelUnavailable, agent_wheel
from orchestrator.api.agent import _own_attempt
from orchestrator.api.agent_tokenlife import live_agent_token
from orchestrator.api.deps import PrincipalDep, RuntimeDep, SessionDep
from orchestrator.api.errors import ApiError
from orchestrator.models import JobSpec
from orchestrator.queue import job_by_id
from orchestrator.workdir import store

router = APIRouter(prefix="/v1/agent/attempts/{attempt_id}", tags=["agent"],
                   dependencies=[Depends(live_agent_token)])  # honoured while active, then a short grace


class RestartReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    restarts: int = Field(ge=1, le=10_000)
    message: str = Field(default="", max_length=500)


@router.get("/wheel")
def download_wheel(attempt_id: str, principal: PrincipalDep, session: SessionDep, rt: RuntimeDep) -> FileResponse:
    _own_attempt(session, principal, attempt_id)
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
