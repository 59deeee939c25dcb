"""Jobs and what runs them: the queue's rows, each try (attempt) and its instances, events and output."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.store.tables.base import Base, BigIntPK


class Job(Base):
    __tablename__ = "jobs"
    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)  # FIFO order
    id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    team: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=0)  # optimistic concurrency for transitions
    submitted_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deadline_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    attempts_count: Mapped[int] = mapped_column(Integer, default=0)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    not_before: Mapped[datetime | None]  # backoff: the queue skips the job until then
    __table_args__ = (Index("ix_jobs_queue", "state", "priority", "seq"),)


class Attempt(Base):
    """One try at running a job on one instance. Recorded BEFORE the launch call."""

    __tablename__ = "attempts"
    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(24), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))
    instance_type: Mapped[str] = mapped_column(String(64))
    spot: Mapped[bool] = mapped_column(Boolean)
    price_per_hour: Mapped[float] = mapped_column(Float)
    offer: Mapped[dict[str, Any]] = mapped_column(JSON)  # the full offer: adapters need GPU details
    created_at: Mapped[datetime]
    launched_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    exit_code: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    launch_tries: Mapped[int] = mapped_column(Integer, default=0)
    nodes: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # gang size
    __table_args__ = (UniqueConstraint("job_id", "number"),)


class Instance(Base):
    __tablename__ = "instances"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id"), index=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))
    instance_type: Mapped[str] = mapped_column(String(64))
    spot: Mapped[bool] = mapped_column(Boolean)
    price_per_hour: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(24))
    launched_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(index=True)  # the ledger finds open/recent rows
    preempted: Mapped[bool] = mapped_column(Boolean, default=False)
    # gangs: the node's rank, the address its agent reported, its own heartbeat and exit code
    node: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    node_ip: Mapped[str | None] = mapped_column(String(64))
    last_heartbeat_at: Mapped[datetime | None]
    exit_code: Mapped[int | None] = mapped_column(Integer)
    # The cloud's own unique id of the machine, which its signed identity document names: the EC2 instance id,
    # GCE's numeric instance id, Azure's vmId. The bootstrap exchange checks the agent's proof against it.
    uid: Mapped[str | None] = mapped_column(String(128))


class JobEvent(Base):
    """Every state transition, with time and reason; also notable non-transition facts."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    attempt_id: Mapped[str | None] = mapped_column(String(48))
    kind: Mapped[str] = mapped_column(String(32), default="transition")
    reason: Mapped[str] = mapped_column(Text, default="")


class LogChunk(Base):
    """Job output as shipped by the agent; (attempt, stream, seq) makes re-sends idempotent."""

    __tablename__ = "log_chunks"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    attempt_id: Mapped[str] = mapped_column(String(48))
    stream: Mapped[str] = mapped_column(String(8))
    seq: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("attempt_id", "stream", "seq"),)
