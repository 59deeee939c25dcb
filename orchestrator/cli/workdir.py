"""`spotwise submit` with `workdir:` (issue 13): pack the directory, upload it once under its sha256, and send the
spec with `workdir_ref` so every attempt -- relaunches included -- unpacks exactly this tree."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.cli.client import ApiClient, CliError

if TYPE_CHECKING:  # imported by attach_workdir: every CLI command imports this module, few submit a workdir
    from rich.console import Console

    from orchestrator.config import Settings
    from orchestrator.models import JobSpec


def _upload_to_daemon(api: ApiClient, digest: str, data: bytes) -> bool:
    try:
        api.get(f"/v1/workdirs/{digest}")
        return False  # already there: content addressing makes the upload a no-op
    except CliError:
        pass
    api.request("PUT", f"/v1/workdirs/{digest}", content=data, headers={"Content-Type": "application/gzip"})
    return True


def attach_workdir(api: ApiClient, settings: Settings, spec: JobSpec, base: Path, out: Console) -> JobSpec:
    """The spec with `workdir_ref` set (relative workdirs are relative to the spec file's directory)."""
    if not spec.workdir:
        return spec
    from orchestrator.checkpoint.backends import CheckpointStorageError
    from orchestrator.models import WorkdirRef
    from orchestrator.workdir import WorkdirError, pack_workdir
    from orchestrator.workdir import store as wstore

    root = (base / spec.workdir).resolve()
    try:
        packed = pack_workdir(root, settings.workdir_max_bytes)
    except WorkdirError as exc:
        raise CliError(str(exc)) from None
    target = settings.workdir_store or wstore.DAEMON
    if target == wstore.DAEMON:
        sent = _upload_to_daemon(api, packed.digest, packed.data)
    else:
        try:
            sent = wstore.upload(wstore.open_store(target), packed.digest, packed.data)
        except (CheckpointStorageError, OSError) as exc:
            raise CliError(f"uploading the workdir to {target} failed: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - SDK errors (botocore, google, azure) have no common base
            raise CliError(f"uploading the workdir to {target} failed: {type(exc).__name__}: {exc}") from None
    out.print(f"workdir {root}: {packed.files} files, {len(packed.data) / 1024:.1f} KiB packed, sha256 "
              f"{packed.digest[:12]} ({'uploaded' if sent else 'already stored'} to {target})", highlight=False,
              soft_wrap=True)
    ref = WorkdirRef(digest=packed.digest, store=target, bytes=len(packed.data), files=packed.files)
    return spec.model_copy(update={"workdir_ref": ref})
