"""Submitting a spec with `workdir:`: pack the directory, upload it once under its sha256, and send the spec with
`workdir_ref` so every attempt -- relaunches included -- unpacks exactly this tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.client.errors import NotFound, SettingsError, SpotwiseError

if TYPE_CHECKING:  # imported by attach_workdir: few submissions carry a workdir
    from orchestrator.client.http import Http
    from orchestrator.config import Settings
    from orchestrator.jobs.models import JobSpec


class WorkdirUploadError(SpotwiseError):
    """The workdir could not be packed (too big, unreadable) or uploaded to its store."""


def _upload_to_daemon(http: Http, digest: str, data: bytes) -> bool:
    try:
        http.get(f"/v1/workdirs/{digest}")
        return False  # already there: content addressing makes the upload a no-op
    except NotFound:
        pass
    http.request("PUT", f"/v1/workdirs/{digest}", content=data, headers={"Content-Type": "application/gzip"})
    return True


def attach_workdir(http: Http, settings: Settings | None, spec: JobSpec, base: Path,
                   report: Callable[[str], None]) -> JobSpec:
    """The spec with `workdir_ref` set (relative workdirs are relative to the spec file's directory); `report`
    gets one line saying what was packed and where it went. `settings` (the size limit and the store) is
    loaded when None and needed."""
    if not spec.workdir:
        return spec
    from orchestrator.checkpoint.backends import CheckpointStorageError
    from orchestrator.jobs.models import WorkdirRef
    from orchestrator.workdir import WorkdirError, pack_workdir
    from orchestrator.workdir import store as wstore

    if settings is None:  # the size limit and the store are the daemon's settings (environment, config file)
        from pydantic import ValidationError

        from orchestrator.config import Settings
        from orchestrator.configfile import ConfigError

        try:
            settings = Settings()
        except (ConfigError, ValidationError) as exc:
            raise SettingsError(f"cannot read the settings the workdir upload needs: {exc}") from None
    root = (base / spec.workdir).resolve()
    try:
        packed = pack_workdir(root, settings.workdir_max_bytes)
    except WorkdirError as exc:
        raise WorkdirUploadError(str(exc)) from None
    target = settings.workdir_store or wstore.DAEMON
    if target == wstore.DAEMON:
        sent = _upload_to_daemon(http, packed.digest, packed.data)
    else:
        try:
            sent = wstore.upload(wstore.open_store(target), packed.digest, packed.data)
        except (CheckpointStorageError, OSError) as exc:
            raise WorkdirUploadError(f"uploading the workdir to {target} failed: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - SDK errors (botocore, google, azure) have no common base
            raise WorkdirUploadError(f"uploading the workdir to {target} failed: {type(exc).__name__}: {exc}") \
                from None
    report(f"workdir {root}: {packed.files} files, {len(packed.data) / 1024:.1f} KiB packed, sha256 "
           f"{packed.digest[:12]} ({'uploaded' if sent else 'already stored'} to {target})")
    ref = WorkdirRef(digest=packed.digest, store=target, bytes=len(packed.data), files=packed.files)
    return spec.model_copy(update={"workdir_ref": ref})
