"""Costs and the rules that act on them: the ledger, policy versions, idle evidence, deliberate stops, energy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.store.tables.base import Base, BigIntPK


class LedgerEntry(Base):
    """Accrued cost of one instance over [start, end), whole seconds, never crossing a UTC midnight.

    (provider, instance_id, start) is unique: the next accrual starts where the last entry ended,
    so a restarted (or second) accruer can never count the same second twice.
    """

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    instance_id: Mapped[str] = mapped_column(String(128))
    attempt_id: Mapped[str] = mapped_column(String(48))
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    team: Mapped[str] = mapped_column(String(64))
    project: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime]
    end: Mapped[datetime]
    price_per_hour: Mapped[float] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float)
    __table_args__ = (
        UniqueConstraint("provider", "instance_id", "start"),
        Index("ix_ledger_team_start", "team", "start"),
        Index("ix_ledger_start", "start"),
        Index("ix_ledger_instance_end", "provider", "instance_id", "end"),  # watermarks: max(end) per instance
    )


class PolicyVersion(Base):
    """Every applied policy file, verbatim; the highest version is in force."""

    __tablename__ = "policy_versions"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime]
    applied_by: Mapped[str] = mapped_column(String(128), default="")


class UtilSample(Base):
    """GPU utilisation and phase from an agent heartbeat: the idle policy's evidence."""

    __tablename__ = "util_samples"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    attempt_id: Mapped[str] = mapped_column(String(48))
    at: Mapped[datetime]
    phase: Mapped[str] = mapped_column(String(16))
    gpu_utilization: Mapped[float | None] = mapped_column(Float)
    checkpoint_uploading: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (Index("ix_util_attempt_at", "attempt_id", "at"),)


class IdleWarning(Base):
    """When the pre-shutdown alert went out for an idle instance; the grace period runs from here."""

    __tablename__ = "idle_warnings"
    attempt_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    warned_at: Mapped[datetime]


class StopRequest(Base):
    """A deliberate stop (budget `stop`, a runtime or cost cap) waiting for the job to checkpoint.

    The heartbeat answer for the attempt becomes `checkpoint_and_stop` until the agent reports its
    exit or `deadline` passes; then the stop is finished and the instance terminated.
    """

    __tablename__ = "stop_requests"
    attempt_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    cause: Mapped[str] = mapped_column(String(16))  # budget | cap
    name: Mapped[str] = mapped_column(String(64))  # the budget's name or the cap's field
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime]
    deadline: Mapped[datetime] = mapped_column(index=True)


class EnergyEntry(Base):
    """Energy one attempt drew on one UTC day, integrated from its heartbeats' power readings.

    GPU energy is split into measured (NVML board power at both ends of the interval) and estimated
    (board power from `gpu_power.json` x utilisation); the host share is always estimated. The
    `last_*` columns are the latest sample: the next heartbeat integrates from there, so samples
    can be pruned (the idle sweep deletes old `util_samples`) without losing energy. Carbon is
    computed at read time from (cloud, region) and the facts table.
    """

    __tablename__ = "energy_entries"
    attempt_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO date, UTC
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    team: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str | None] = mapped_column(String(64))
    cloud: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    gpu_measured_wh: Mapped[float] = mapped_column(Float, default=0.0)
    gpu_estimated_wh: Mapped[float] = mapped_column(Float, default=0.0)
    host_wh: Mapped[float] = mapped_column(Float, default=0.0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    last_at: Mapped[datetime]
    last_gpu_watts: Mapped[float] = mapped_column(Float)
    last_host_watts: Mapped[float] = mapped_column(Float)
    last_measured: Mapped[bool] = mapped_column(Boolean)
