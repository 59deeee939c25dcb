"""The job queue: submit, claim in fair order (orchestrator/jobs/fair_queue.py), list and look up.

Claiming uses `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers (or daemon
replicas) each get different jobs; SQLite has one writer at a time, which gives the same result.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from orchestrator.jobs.fair_queue import claim_fair, ready
from orchestrator.jobs.models import JobSpec, JobState
from orchestrator.jobs.transitions import record_event
from orchestrator.store.tables import Job, JobEvent
from orchestrator.store.types import utcnow

RUNNABLE = (JobState.PENDING.value, JobState.PREEMPTED.value, JobState.WAITING_CAPACITY.value)


def new_job_id() -> str:
    return "j-" + secrets.token_hex(5)


def submit(session: Session, spec: JobSpec, now: datetime | None = None) -> Job:
    now = now or utcnow()
    job = Job(
        id=new_job_id(), name=spec.name, team=spec.team, project=spec.project, state=JobState.PENDING.value,
        priority=spec.priority, spec=spec.model_dump(mode="json"), version=0, submitted_at=now,
        updated_at=now, deadline_at=spec.deadline_at(now), attempts_count=0, restarts=0, reason="",
    )
    session.add(job)
    session.flush()
    record_event(session, job.id, "submitted", kind="transition", to_state=JobState.PENDING.value, at=now)
    return job


_JOB_KEYS = ("id", "name", "team", "project", "state", "priority", "spec", "version", "submitted_at", "updated_at",
             "deadline_at", "started_at", "finished_at", "attempts_count", "restarts", "exit_code", "reason",
             "not_before")
_EVENT_KEYS = ("job_id", "at", "from_state", "to_state", "attempt_id", "kind", "reason")
_INSERT_JOBS = insert(Job)
_INSERT_EVENTS = insert(JobEvent)


def submit_values(spec: JobSpec, now: datetime) -> dict[str, Any]:
    """The column values of a just-submitted job (what submit() stores), without the database's `seq`."""
    return dict(zip(_JOB_KEYS, (
        new_job_id(), spec.name, spec.team, spec.project, JobState.PENDING.value, spec.priority,
        spec.model_dump(mode="json"), 0, now, now, spec.deadline_at(now), None, None, 0, 0, None, "", None),
        strict=True))


def insert_submissions(conn: Connection, jobs: Sequence[dict[str, Any]]) -> None:
    """Store submissions as submit() does (each PENDING job and its 'submitted' transition event) in the caller's
    transaction: the API's hot path. Two Core INSERTs for any number of jobs (executemany; psycopg
    pipelines it into one round trip), no ORM unit of work (its flush was a fifth of a submission's CPU)."""
    if not jobs:
        return
    events = [dict(zip(_EVENT_KEYS, (v["id"], v["submitted_at"], None, JobState.PENDING.value, None, "transition",
                                     f"submitted; {v['note']}" if v.get("note") else "submitted"), strict=True))
              for v in jobs]  # a `note` is a caveat said in the first event (api/feasible.py: no offers known yet)
    conn.execute(_INSERT_JOBS, [v if "note" not in v else {k: x for k, x in v.items() if k != "note"} for v in jobs])
    conn.execute(_INSERT_EVENTS, events)


def claim_runnable(session: Session, limit: int, now: datetime | None = None) -> list[Job]:
    """Jobs ready for placement, row-locked, in placement order: round-robin across teams for the claim,
    priority then fair share within the pass (see orchestrator/jobs/fair_queue.py for why)."""
    return claim_fair(session, RUNNABLE, limit, now or utcnow())


def has_runnable(session: Session, now: datetime | None = None) -> bool:
    """Whether any job is ready for placement: a pass's cheap first look (no ranking, no lock)."""
    return session.scalar(select(Job.seq).where(*ready(RUNNABLE, now or utcnow())).limit(1)) is not None


def job_by_id(session: Session, job_id: str) -> Job:
    """The job row for an id known to exist (e.g. from an attempt)."""
    return session.execute(select(Job).where(Job.id == job_id)).scalar_one()


def get_job(session: Session, job_id: str, team: str | None = None) -> Job | None:
    """The job, or None when it does not exist or belongs to another team than `team`."""
    job = session.scalar(select(Job).where(Job.id == job_id))
    if job is None or (team is not None and job.team != team):
        return None
    return job


def list_jobs(
    session: Session, *, team: str | None = None, states: Sequence[str] = (), name: str | None = None,
    limit: int = 50, before_seq: int | None = None,
) -> list[Job]:
    """Newest first; page with `before_seq` = the last row's seq."""
    stmt = select(Job).order_by(Job.seq.desc()).limit(limit)
    if team is not None:
        stmt = stmt.where(Job.team == team)
    if states:
        stmt = stmt.where(Job.state.in_(list(states)))
    if name:
        stmt = stmt.where(Job.name == name)
    if before_seq is not None:
        stmt = stmt.where(Job.seq < before_seq)
    return list(session.scalars(stmt))
