"""/v1/jobs: submit, list, show, cancel, events, logs. A team token sees only its team's jobs."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, Body, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.api.attempt_instances import add_budget_wait, add_instance_ids
from orchestrator.api.deps import RuntimeDep, SessionDep, UserDep
from orchestrator.api.errors import ERROR_RESPONSES, ApiError
from orchestrator.api.feasible import Feasibility, configured_names, dry_run_view
from orchestrator.api.submitbatch import SubmitBatcher
from orchestrator.api.workdirs import check_submission
from orchestrator.checkpoint.views import add_recovery_facts
from orchestrator.jobs import transitions as T
from orchestrator.jobs.models import JobState
from orchestrator.jobs.queue import get_job, list_jobs, submit_values
from orchestrator.jobs.specfile import SpecError, parse_spec, unique_keys
from orchestrator.spending.costs import job_costs
from orchestrator.spending.energy import job_energy
from orchestrator.store.tables import Attempt, Job, JobEvent, LogChunk
from orchestrator.store.types import utcnow
from orchestrator.tokens import Principal

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
INT64_MAX = 2**63 - 1  # SQLite and PostgreSQL integers: a bigger query value was a 500 (OverflowError)


def require_json(request: Request) -> None:
    """415 unless the body is declared JSON: FastAPI hands other bodies over as bytes, which then failed as 'not a
    mapping', a misleading answer to a client that sent the right spec with the wrong header."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "application/json" and not (kind.startswith("application/") and kind.endswith("+json")):
        raise ApiError(415, "unsupported_media_type", f"send the job spec as JSON with 'Content-Type: "
                       f"application/json' (got {kind or 'no content type'!r})")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _stored_accelerators(spec: Any) -> Any:
    """The stored spec's accelerators; None when the row is too broken to read (that job fails alone, and every
    listing that shows it stays readable)."""
    resources = spec.get("resources") if isinstance(spec, dict) else None
    if not isinstance(resources, dict):
        return None
    first, more = resources.get("accelerators"), resources.get("accelerator_candidates")
    if isinstance(first, str) and isinstance(more, list) and more and all(isinstance(m, str) for m in more):
        return " or ".join([first, *more])  # "A100:8 or H100:8": a job with GPU candidates
    return first


def job_view(job: Job | SimpleNamespace, cost: float, now: datetime,
             attempts: list[Attempt] | None = None) -> dict[str, Any]:
    """The API's form of a job; `job` may be a namespace of a just-submitted job's column values."""
    end = job.finished_at or now
    view: dict[str, Any] = {
        "id": job.id, "name": job.name, "team": job.team, "project": job.project, "state": job.state,
        "priority": job.priority, "accelerators": _stored_accelerators(job.spec),
        "submitted_at": _iso(job.submitted_at), "updated_at": _iso(job.updated_at),
        "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at),
        "deadline_at": _iso(job.deadline_at), "attempts": job.attempts_count, "restarts": job.restarts,
        "exit_code": job.exit_code, "reason": job.reason, "cost_usd": round(cost, 6),
        "not_before": _iso(job.not_before),  # a waiting job's next placement look
        "runtime_seconds": round((end - job.started_at).total_seconds(), 3) if job.started_at else None,
    }
    if attempts is not None:
        view["spec"] = job.spec
        view["attempt_list"] = [attempt_view(a) for a in attempts]
    return view


def attempt_view(a: Attempt) -> dict[str, Any]:
    return {
        "id": a.id, "number": a.number, "state": a.state, "provider": a.provider, "region": a.region,
        "zone": a.zone, "instance_type": a.instance_type, "spot": a.spot, "price_per_hour": a.price_per_hour,
        "created_at": _iso(a.created_at), "launched_at": _iso(a.launched_at), "started_at": _iso(a.started_at),
        "ended_at": _iso(a.ended_at), "exit_code": a.exit_code, "end_reason": a.end_reason,
    }


def _visible_job(session: Session, principal: Principal, job_id: str) -> Job:
    job = get_job(session, job_id, team=None if principal.is_admin else principal.team)
    if job is None:
        raise ApiError(404, "not_found", f"job {job_id} not found")
    return job


# The hot path of the API. Async: the spec is validated and its response built in the event loop (no
# I/O); the checks that read the store and the INSERTs run in a worker thread, committed with the submissions that
# arrived meanwhile (api/submitbatch.py: group commit, Core INSERTs, no re-SELECT) before the 201 is sent; the
# response is encoded once with json.dumps (FastAPI's jsonable_encoder walked the dict first).
@router.post("", status_code=201, response_model=None,
             responses={415: {**ERROR_RESPONSES[400], "description": "body not sent as JSON (Content-Type)"}})
async def submit_job(principal: UserDep, rt: RuntimeDep, request: Request, body: Any = Body(...),
                     dry_run: bool = Query(False, description="check and show where it would go; queue nothing")
                     ) -> Response:
    """Submit a job spec (the same fields as a YAML job file)."""
    require_json(request)
    now = utcnow()
    try:
        # FastAPI's json.loads kept the last of a repeated key; parse again with the duplicate check (~5 us).
        json.loads(await request.body(), object_pairs_hook=unique_keys)
        spec = parse_spec(body, "request body", submitted_at=now, clouds=configured_names(rt))
    except SpecError as exc:
        raise ApiError(422, "invalid_spec", "; ".join(exc.problems), exc.problems) from None
    if not principal.is_admin:
        if "team" not in (body or {}):
            spec = spec.model_copy(update={"team": principal.team})
        elif spec.team != principal.team:
            raise ApiError(403, "forbidden", f"a token of team {principal.team!r} cannot submit for team "
                           f"{spec.team!r}")
    spec = spec.model_copy(update={"submitted_by": "admin" if principal.is_admin else "team"})  # never the spec's
    feasibility = Feasibility.of(request, rt)
    assessed = await feasibility.check(spec)  # 422 when no configured provider could ever run it
    if dry_run:
        now_view = await feasibility.where_now(spec, assessed)
        return Response(json.dumps(dry_run_view(now_view, spec), allow_nan=False).encode(),
                        media_type="application/json")
    values = submit_values(spec, now)
    if assessed.note:  # accepted unchecked (no offers known yet): said in the job's first event and the answer
        values["note"] = assessed.note
    await SubmitBatcher.for_loop(rt, check_submission).submit(spec, values)  # committed when it returns
    view = job_view(SimpleNamespace(**values), 0.0, now)
    if assessed.note:
        view["note"] = assessed.note
    return Response(json.dumps(view, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(),
                    status_code=201, media_type="application/json")


@router.get("")
def list_job_page(
    principal: UserDep, session: SessionDep,
    state: list[JobState] = Query(default=[]), team: str | None = None, name: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    before: int | None = Query(default=None, ge=1, le=INT64_MAX),  # a bigger one was a 500 (API fuzzing)
) -> dict[str, Any]:
    """Newest first. Page with `before` = the previous page's `next_before`."""
    if not principal.is_admin:
        if team is not None and team != principal.team:
            raise ApiError(403, "forbidden", f"a token of team {principal.team!r} cannot list team {team!r}")
        team = principal.team
    jobs = list_jobs(session, team=team, states=[s.value for s in state], name=name, limit=limit,
                     before_seq=before)
    now = utcnow()
    costs = job_costs(session, [j.id for j in jobs], now)
    return {
        "items": [job_view(j, costs.get(j.id, 0.0), now) for j in jobs],
        "next_before": jobs[-1].seq if len(jobs) == limit else None,
    }


@router.get("/{job_id}")
def show_job(job_id: str, principal: UserDep, session: SessionDep) -> dict[str, Any]:
    job = _visible_job(session, principal, job_id)
    attempts = list(session.scalars(select(Attempt).where(Attempt.job_id == job.id).order_by(Attempt.number)))
    now = utcnow()
    view = job_view(job, job_costs(session, [job.id], now).get(job.id, 0.0), now, attempts)
    energy = job_energy(session, job.id)  # energy and carbon next to cost
    for a in view["attempt_list"]:
        a["energy"] = energy["attempts"].get(a["id"])
    view["energy"] = {k: v for k, v in energy.items() if k != "attempts"}
    add_recovery_facts(session, job.id, view["attempt_list"], now)  # recovery: cost and checkpoint per attempt
    add_instance_ids(session, view["attempt_list"])
    add_budget_wait(session, job, view)
    return view


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, principal: UserDep, session: SessionDep) -> dict[str, Any]:
    job = _visible_job(session, principal, job_id)
    if JobState(job.state).is_final:
        raise ApiError(409, "conflict", f"job {job_id} is already {job.state}; nothing to cancel")
    try:
        T.cancel(session, job, f"cancelled by {principal.role}" + (f" of team {principal.team}"
                                                                   if principal.team else ""))
    except T.TransitionRefused as exc:
        raise ApiError(409, "conflict", f"{exc}; try again") from None
    return job_view(job, job_costs(session, [job.id]).get(job.id, 0.0), utcnow())


@router.get("/{job_id}/events")
def job_events(job_id: str, principal: UserDep, session: SessionDep) -> dict[str, Any]:
    job = _visible_job(session, principal, job_id)
    events = session.scalars(select(JobEvent).where(JobEvent.job_id == job.id).order_by(JobEvent.id))
    return {"items": [
        {"at": _iso(e.at), "kind": e.kind, "from": e.from_state, "to": e.to_state, "attempt": e.attempt_id,
         "reason": e.reason} for e in events
    ]}


@router.get("/{job_id}/checkpoints")
def job_checkpoints(job_id: str, principal: UserDep, session: SessionDep) -> dict[str, Any]:
    """Checkpoint versions the job's agents reported uploading, newest first."""
    from orchestrator.checkpoint.jobs import checkpoint_events, uploaded_versions

    job = _visible_job(session, principal, job_id)
    return {"items": list(reversed(uploaded_versions(checkpoint_events(session, job.id))))}


@router.get("/{job_id}/logs")
def job_logs(
    job_id: str, principal: UserDep, session: SessionDep,
    after: int = Query(default=0, ge=0, le=INT64_MAX), limit: int = Query(default=1000, ge=1, le=10000),
) -> dict[str, Any]:
    """Log chunks after cursor `after` (pass the returned `cursor` to follow)."""
    job = _visible_job(session, principal, job_id)
    rows = list(session.scalars(
        select(LogChunk).where(LogChunk.job_id == job.id, LogChunk.id > after).order_by(LogChunk.id).limit(limit)
    ))
    return {
        "items": [{"attempt": r.attempt_id, "stream": r.stream, "data": r.data, "at": _iso(r.at)} for r in rows],
        "cursor": rows[-1].id if rows else after,
        "final": JobState(job.state).is_final,
    }
