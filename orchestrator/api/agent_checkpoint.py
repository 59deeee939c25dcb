"""/v1/agent/attempts/{id}/checkpoint: the agent reports each checkpoint version it restored or uploaded."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.agent import _own_attempt
from orchestrator.api.agent_tokenlife import live_agent_token
from orchestrator.api.deps import PrincipalDep, RuntimeDep, SessionDep
from orchestrator.checkpoint.jobs import describe_report, store_url
from orchestrator.jobs import transitions as T
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import job_by_id
from orchestrator.provisioning.transfers import record_transfer

router = APIRouter(prefix="/v1/agent/attempts/{attempt_id}", tags=["agent"],
                   dependencies=[Depends(live_agent_token)])  # honoured while active, then a short grace


class CheckpointReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: Literal["restored", "uploaded"]
    version: str = Field(pattern=r"^[0-9]{6}$")
    files: int = Field(ge=0)
    bytes: int = Field(ge=0)
    why: str = Field(default="", max_length=200)
    uploaded_bytes: int | None = Field(default=None, ge=0)
    # what crossed the network and how long it took: a sample of the (store region, instance region) path's rate
    transferred_bytes: int | None = Field(default=None, ge=0)
    seconds: float | None = Field(default=None, ge=0, le=10_000_000, allow_inf_nan=False)


@router.post("/checkpoint")
def report_checkpoint(attempt_id: str, body: CheckpointReport, principal: PrincipalDep,
                      session: SessionDep, rt: RuntimeDep) -> dict[str, Any]:
    attempt = _own_attempt(session, principal, attempt_id)
    T.record_event(session, attempt.job_id, describe_report(body.model_dump()), kind="checkpoint",
                   attempt_id=attempt.id)
    sampled = False
    if body.transferred_bytes is not None and body.seconds is not None:
        job = job_by_id(session, attempt.job_id)
        store = store_url(rt.settings, JobSpec.model_validate(job.spec), attempt.provider, job.id)
        sampled = record_transfer(session, rt.settings, rt.providers, attempt, store,
                                  "restore" if body.event == "restored" else "upload",
                                  body.transferred_bytes, body.seconds)
    return {"ok": True, "transfer_sampled": sampled}
