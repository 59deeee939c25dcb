"""Before setup, on every attempt: the job's workdir at its digest, file_mounts, and crash bookkeeping.

A failure here is reported as the attempt's exit with a message (a digest mismatch or a missing secret will not
fix itself by running the job anyway).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.agent.client import AgentClient, DaemonRefused
from orchestrator.checkpoint.backends import Backend, CheckpointStorageError
from orchestrator.workdir import UnsafeArchive, unpack_workdir
from orchestrator.workdir import store as wstore

PGID_FILE = "job.pgid"


class PrepareFailed(Exception):
    """The attempt cannot start; the message goes to the daemon as the exit report's message."""


def fetch_workdir(client: AgentClient | None, ref: dict[str, Any], target: Path, backend: Backend | None = None,
                  **options: Any) -> int:
    """Download the archive for `ref` (daemon or bucket), verify its sha256, unpack it safely into `target`.
    `backend` replaces opening `ref["store"]` (tests pass an emulator's client)."""
    with tempfile.TemporaryDirectory(prefix="spotwise-workdir-") as scratch:
        archive = Path(scratch) / "workdir.tar.gz"
        if ref["store"] == wstore.DAEMON:
            assert client is not None, "the daemon store is reached through the agent client"
            client.download("/workdir", archive)
        else:
            wstore.download(backend or wstore.open_store(ref["store"], **options), ref["digest"], archive)
        return unpack_workdir(archive, target, ref["digest"])


def _read_only(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def mount_path(path: str, path_prefix: str) -> Path:
    return Path(path_prefix + path) if path_prefix else Path(path)


def prepare(client: AgentClient, spec: dict[str, Any], workdir: Path, path_prefix: str,
            log: Callable[[str], None]) -> None:
    if spec.get("prepare_error"):
        raise PrepareFailed(spec["prepare_error"])
    ref = spec.get("workdir")
    try:
        if ref:
            files = fetch_workdir(client, ref, workdir)
            log(f"workdir {ref['digest'][:12]} unpacked: {files} files")
        for path, url in (spec.get("file_mounts") or {}).items():
            dest = mount_path(path, path_prefix)
            count = wstore.download_tree(url, dest)
            _read_only(dest)
            log(f"file mount {path}: {count} files from {url}")
    except (UnsafeArchive, CheckpointStorageError, DaemonRefused, TimeoutError, OSError) as exc:
        raise PrepareFailed(f"preparing the instance failed: {exc}") from None


def after_restart(client: AgentClient, work_root: Path, log: Callable[[str], None]) -> None:
    """Under the start-up script's supervisor: after a crash, stop the job the dead agent left running (its
    process group is recorded) and tell the daemon, so the restart is visible in `jobs show`."""
    restarts = int(os.environ.get("SPOTWISE_AGENT_RESTARTS") or 0)
    if restarts <= 0:
        return
    pgid_file = work_root / PGID_FILE
    with contextlib.suppress(OSError, ValueError):
        os.killpg(int(pgid_file.read_text()), signal.SIGKILL)
    log(f"restarted by the supervisor (restart {restarts})")
    with contextlib.suppress(DaemonRefused, TimeoutError):
        client.call("POST", "/restarted", json={"restarts": restarts}, give_up_after=60.0)


def record_job_group(work_root: Path, pid: int) -> None:
    with contextlib.suppress(OSError):
        (work_root / PGID_FILE).write_text(str(pid))
