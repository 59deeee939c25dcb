"""The code-and-secrets part of an attempt's spec response: where the code is, what data to mount, which image, and the
secret values. Only the attempt's own agent receives it (api/agent.py checks the token); never log it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.jobs import secrets as jobsecrets
from orchestrator.jobs.models import JobSpec


def job_payload(session: Session, home: Path, spec: JobSpec) -> dict[str, Any]:
    error = ""
    try:
        secret_values = jobsecrets.resolve(session, home, spec.team, spec.secrets)
    except jobsecrets.SecretUnavailable as exc:  # deleted after submission: the agent fails the attempt clearly
        secret_values, error = {}, str(exc)
    return {
        "prepare_error": error,
        "workdir": spec.workdir_ref.model_dump() if spec.workdir_ref else None,
        "file_mounts": dict(spec.file_mounts),
        "image": spec.image.removeprefix("docker:") if spec.image else None,
        "secrets": secret_values,
    }
