"""Where packed workdirs live: a bucket (the checkpoint backends: file://, s3://, gs://, az://) or the daemon.

Keys are `workdirs/<sha256>.tar.gz`, so an upload is idempotent (an existing key is not sent again) and a job
that names a digest always gets exactly those bytes. The daemon store is the same layout under SPOTWISE_HOME,
reached through the authenticated API, so the local provider and private networks need no bucket at all.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from orchestrator.checkpoint.backends import Backend, LocalBackend, open_backend

DAEMON = "daemon"


def workdir_key(digest: str) -> str:
    return f"workdirs/{digest}.tar.gz"


def daemon_backend(home: Path) -> LocalBackend:
    """The daemon's own store: HOME/workdirs/<digest>.tar.gz, written atomically."""
    return LocalBackend(home)


def exists(backend: Backend, digest: str) -> bool:
    key = workdir_key(digest)
    if isinstance(backend, LocalBackend):  # its list() walks directories; the key is a file
        return (backend.root / key).is_file()
    return key in backend.list(key)


def upload(backend: Backend, digest: str, data: bytes) -> bool:
    """Put the archive unless that digest is already there; True when bytes were sent."""
    if exists(backend, digest):
        return False
    backend.put_bytes(workdir_key(digest), data)
    return True


def download(backend: Backend, digest: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    backend.get_file(workdir_key(digest), dest)


def open_store(url: str, **options: Any) -> Backend:
    return open_backend(url, **options)


def download_tree(url: str, dest: Path, **options: Any) -> int:
    """file_mounts: copy every object under a bucket prefix into `dest` (kept read-only by the caller)."""
    backend = open_backend(url, **options)
    count = 0
    for key in backend.list(""):
        rel = Path(key)
        if rel.is_absolute() or ".." in rel.parts:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            pass
        backend.get_file(key, Path(tmp.name))
        Path(tmp.name).replace(target)
        count += 1
    return count
