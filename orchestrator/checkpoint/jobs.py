"""Daemon-side checkpoint facts: where a job's checkpoints live, what the agent needs to sync them, and what the
agents reported (recorded as job events of kind `checkpoint`, so no extra table is needed)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.config import Settings
from orchestrator.jobs.models import CheckpointSpec, JobSpec
from orchestrator.store.tables import JobEvent
from providers.local.jobuser import checkpoint_root

RESTORED_PREFIX = "restored checkpoint "
UPLOADED_PREFIX = "uploaded checkpoint "


def store_url(settings: Settings, spec: JobSpec, provider: str, job_id: str) -> str | None:
    """The job's checkpoint prefix: its own `checkpoint.store`, the daemon's default, or -- on the local provider,
    whose instances each have a private disk -- the provider's checkpoint directory, outside SPOTWISE_HOME (each
    job's folder there private to its team's user: providers/local/jobuser.py). None: no object storage."""
    base = (spec.checkpoint.store if spec.checkpoint else None) or settings.checkpoint_store
    local_root = None if base else checkpoint_root(settings.home, settings.providers, provider)
    if local_root is not None:
        base = f"file://{local_root}"
    return f"{base.rstrip('/')}/{job_id}" if base else None


def agent_config(settings: Settings, spec: JobSpec, provider: str, job_id: str) -> dict[str, Any]:
    ckpt = spec.checkpoint or CheckpointSpec()
    return {"store": store_url(settings, spec, provider, job_id), "interval_seconds": ckpt.interval.total_seconds(),
            "keep": ckpt.keep, "stop_signal": ckpt.stop_signal, "grace_seconds": ckpt.grace.total_seconds()}


def describe_report(report: dict[str, Any]) -> str:
    prefix = RESTORED_PREFIX if report["event"] == "restored" else UPLOADED_PREFIX
    why = f", {report['why']}" if report.get("why") else ""
    return f"{prefix}{report['version']} ({report['files']} files, {report['bytes']} bytes{why})"


def checkpoint_events(session: Session, job_id: str) -> list[JobEvent]:
    return list(session.scalars(select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.kind == "checkpoint")
                                .order_by(JobEvent.at)))


_UPLOADED_RE = re.compile(r"^(?P<version>\S+) \((?P<files>\d+) files, (?P<bytes>\d+) bytes(?:, (?P<why>.*))?\)$")


def uploaded_versions(events: list[JobEvent]) -> list[dict[str, Any]]:
    """Every checkpoint version an agent reported uploading, oldest first (pruned ones included)."""
    versions = []
    for e in events:
        if not e.reason.startswith(UPLOADED_PREFIX):
            continue
        match = _UPLOADED_RE.match(e.reason.removeprefix(UPLOADED_PREFIX))
        if match is None:
            continue
        versions.append({"version": match["version"], "created_at": e.at.isoformat(), "attempt": e.attempt_id,
                         "files": int(match["files"]), "size_bytes": int(match["bytes"]), "why": match["why"] or ""})
    return versions


def resumed_from(events: list[JobEvent]) -> dict[str, str]:
    """attempt id -> the checkpoint version it restored before starting."""
    return {e.attempt_id: e.reason.removeprefix(RESTORED_PREFIX).split(" ")[0]
            for e in events if e.attempt_id and e.reason.startswith(RESTORED_PREFIX)}
