"""/v1/agent: what the on-instance agent calls. Its token is valid for its own attempt only (and, on a
multi-node attempt, for its own node only: see agent_gang.py)."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from orchestrator.api.agent_gang import SEQ_SPAN, gang_outcome, record_node_heartbeat, rendezvous, token_node
from orchestrator.api.agent_tokenlife import live_agent_token
from orchestrator.api.deps import PrincipalDep, RuntimeDep, SessionDep
from orchestrator.api.errors import ApiError
from orchestrator.checkpoint.jobs import agent_config
from orchestrator.containment import describe
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import ACTIVE, AttemptState, advance_attempt, end_attempt
from orchestrator.jobs.logtext import storable
from orchestrator.jobs.models import JobSpec, JobState
from orchestrator.jobs.queue import job_by_id
from orchestrator.provisioning.retry import after_attempt
from orchestrator.spending import stops
from orchestrator.spending.energy import record_power
from orchestrator.spending.idle import record_sample
from orchestrator.store.tables import Attempt, LogChunk
from orchestrator.store.types import utcnow
from orchestrator.tokens import Principal
from orchestrator.workdir.payload import job_payload

router = APIRouter(prefix="/v1/agent/attempts/{attempt_id}", tags=["agent"],
                   dependencies=[Depends(live_agent_token)])  # honoured while active, then a short grace


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phase: Literal["starting", "setup", "running", "stopping"] = "running"
    gpu_utilization: float | None = Field(default=None, ge=0, le=100)
    gpu_power_watts: float | None = Field(default=None, ge=0, le=1_000_000)  # NVML, all GPUs together
    checkpoint_uploading: bool = False  # the idle sweep never shuts an instance down mid-upload
    node: int | None = Field(default=None, ge=0)  # optional: must be the token's own node


class Chunk(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stream: Literal["stdout", "stderr"]
    seq: int = Field(ge=0, lt=SEQ_SPAN)
    data: str = Field(max_length=256_000)


class LogBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunks: list[Chunk] = Field(max_length=1000)


class ExitReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exit_code: int
    preempted: bool = False
    message: str = Field(default="", max_length=2000)
    node: int | None = Field(default=None, ge=0)  # optional: must be the token's own node


class GangHello(BaseModel):
    """A gang node's address, for the others' SPOTWISE_NODE_IPS."""

    model_config = ConfigDict(extra="forbid")
    ip: str = Field(max_length=64)

    @field_validator("ip")
    @classmethod
    def _is_ip(cls, value: str) -> str:
        try:
            return str(ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None


def _own_attempt(session: Session, principal: Principal, attempt_id: str) -> Attempt:
    if principal.role != "agent" or principal.attempt_id != attempt_id:
        raise ApiError(403, "forbidden", "this token is not the agent token of that attempt")
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        raise ApiError(404, "not_found", f"attempt {attempt_id} not found")
    token_node(principal, attempt)  # a gang node's token speaks for its node only
    return attempt


@router.get("/spec")
def attempt_spec(attempt_id: str, principal: PrincipalDep, session: SessionDep, rt: RuntimeDep) -> dict[str, Any]:
    attempt = _own_attempt(session, principal, attempt_id)
    if attempt.state not in ACTIVE:  # never the secrets (nor the code) of an attempt that ended: only "stop"
        return {"job_id": attempt.job_id, "attempt_id": attempt.id, "attempt_number": attempt.number, "active": False}
    job = job_by_id(session, attempt.job_id)
    try:
        spec = JobSpec.model_validate(job.spec)
    except ValidationError as exc:  # a stored spec that no longer validates: this job fails, its agent stops
        reason = f"the stored spec no longer validates: {describe(exc)}"
        if not JobState(job.state).is_final:
            T.mark_failed(session, job, reason, attempt_id=attempt.id)
        return {"job_id": job.id, "attempt_id": attempt.id, "active": False, "reason": reason}
    return {
        "job_id": job.id, "attempt_id": attempt.id, "attempt_number": attempt.number,
        "setup": spec.setup, "run": spec.run, "env": spec.env,
        "checkpoint_dir": spec.checkpoint.dir if spec.checkpoint else None,
        "checkpoint": agent_config(rt.settings, spec, attempt.provider, job.id),  # checkpoint store, interval, signal
        "resumed": attempt.number > 1, "heartbeat_interval_seconds": rt.settings.heartbeat_interval_seconds,
        "active": attempt.state in ACTIVE,
        "node_rank": token_node(principal, attempt), "num_nodes": attempt.nodes,  # gangs
        "gpus_per_node": _offer_gpus(attempt.offer),  # the placed offer's: a candidate list may differ per type
        **job_payload(session, rt.settings.home, spec),  # workdir, file_mounts, image, secrets
    }


def _offer_gpus(offer: Any) -> int:
    """GPUs per node of the offer the attempt runs on (0 when the stored offer does not say)."""
    count = offer.get("gpu_count") if isinstance(offer, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


@router.post("/heartbeat")
def heartbeat(attempt_id: str, body: Heartbeat, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    attempt = _own_attempt(session, principal, attempt_id)
    node = token_node(principal, attempt, body.node)
    if attempt.state not in ACTIVE:
        return {"action": "stop", "reason": f"attempt is {attempt.state}"}
    job = job_by_id(session, attempt.job_id)
    if JobState(job.state).is_final:
        return {"action": "stop", "reason": f"job is {job.state}"}
    now = utcnow()
    attempt.last_heartbeat_at = now
    record_node_heartbeat(session, attempt, node, now)  # each node's own liveness (reconcile checks each)
    record_sample(session, attempt.id, body.phase, body.gpu_utilization, body.checkpoint_uploading, now)
    record_power(session, attempt, job, now, body.phase, body.gpu_utilization, body.gpu_power_watts)
    if attempt.state == AttemptState.LAUNCHED and advance_attempt(
        session, attempt.id, AttemptState.LAUNCHED, AttemptState.RUNNING, started_at=now, last_heartbeat_at=now
    ) and job.state == JobState.PROVISIONING:
        T.mark_running(session, job, attempt.id, f"agent on attempt {attempt.number} reported in")
    return stops.heartbeat_answer(session, attempt.id, now) or {"action": "continue"}


def _insert_ignore(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


@router.post("/logs")
def ship_logs(attempt_id: str, body: LogBatch, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """Idempotent on (attempt, stream, seq): a batch re-sent after a timeout is stored once. The text is stored
    escaped where a database cannot hold it (orchestrator/jobs/logtext.py), so no job output can fail its upload."""
    attempt = _own_attempt(session, principal, attempt_id)
    if body.chunks:
        now = utcnow()
        base = token_node(principal, attempt) * SEQ_SPAN  # each gang node has its own range of seq numbers
        rows = [{"job_id": attempt.job_id, "attempt_id": attempt.id, "stream": c.stream, "seq": base + c.seq,
                 "data": storable(c.data), "at": now} for c in body.chunks]
        stmt = _insert_ignore(session)(LogChunk).values(rows).on_conflict_do_nothing(
            index_elements=["attempt_id", "stream", "seq"])
        session.execute(stmt)
    return {"accepted": len(body.chunks)}


@router.post("/exit")
def report_exit(attempt_id: str, body: ExitReport, principal: PrincipalDep, session: SessionDep,
                rt: RuntimeDep) -> dict[str, Any]:
    attempt = _own_attempt(session, principal, attempt_id)
    node = token_node(principal, attempt, body.node)
    job = job_by_id(session, attempt.job_id)
    stop = stops.pending(session, attempt.id)
    if stop is not None and attempt.state in ACTIVE:  # a budget/cap stop: the exit is its outcome
        stops.finish(session, stop, exit_code=body.exit_code)
        return {"ok": True, "stopped": stop.reason}
    if attempt.nodes > 1:  # a gang: all nodes 0 -> success; any non-zero -> failure; any preemption -> preempted
        decided = gang_outcome(session, attempt, node, body.exit_code, body.preempted, storable(body.message))
        if decided is None:
            return {"ok": True, "waiting_for_other_nodes": True}
        outcome, why = decided
    elif body.preempted:
        outcome, why = AttemptState.PREEMPTED, "agent saw a preemption notice; job stopped"
    elif body.exit_code == 0:
        outcome, why = AttemptState.SUCCEEDED, "exit code 0"
    else:
        outcome, why = AttemptState.FAILED, f"exit code {body.exit_code}" + (
            f": {storable(body.message)}" if body.message else "")  # a NUL here would be refused on PostgreSQL
    if not end_attempt(session, attempt.id, outcome, why, exit_code=body.exit_code):
        if attempt.nodes > 1 and session.scalar(select(Attempt.state).where(Attempt.id == attempt.id)) not in ACTIVE:
            return {"ok": True, "gang_already_ended": True}  # another node's report (or a stop) ended the gang
        current = session.scalar(select(Attempt.state).where(Attempt.id == attempt.id))
        if current == outcome.value:
            return {"ok": True, "duplicate": True}
        raise ApiError(409, "conflict", f"attempt is already {current}")
    if JobState(job.state).is_final:
        return {"ok": True}
    if outcome is AttemptState.SUCCEEDED:
        T.mark_succeeded(session, job, attempt.id)
    else:  # recovery: policies/retry.py decides between a restart (with backoff) and failing the job
        after_attempt(session, rt.settings, job, attempt, preempted=body.preempted,
                      exit_code=None if body.preempted else body.exit_code, why=why)
    return {"ok": True}


@router.post("/gang")
def gang_rendezvous(attempt_id: str, body: GangHello, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """A gang node says where it is; the answer lists every node's address once all have said."""
    attempt = _own_attempt(session, principal, attempt_id)
    return rendezvous(session, attempt, token_node(principal, attempt), body.ip)
