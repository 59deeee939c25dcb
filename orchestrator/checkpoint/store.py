"""Versioned checkpoints in object storage: files first, then a manifest, then the `latest` pointer.

Layout under the store URL (one prefix per job):
    blobs/<sha256>            file contents, content-addressed: an unchanged file is never uploaded twice
    versions/<NNNNNN>.json    the manifest of one version: relative path -> sha256 and size
    latest                    {"version": "NNNNNN"}, rewritten atomically after the manifest

A crash anywhere in an upload leaves `latest` on the previous version (the manifest and pointer are written only
after every blob), so a half-uploaded checkpoint is never restored. Pruning keeps the newest N versions and the
blobs they reference.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.checkpoint.backends import Backend, CheckpointStorageError, open_backend

LATEST = "latest"


@dataclass(frozen=True)
class Version:
    """One published checkpoint version."""

    version: str
    files: dict[str, dict[str, Any]]
    created_at: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(int(f["size"]) for f in self.files.values())


@dataclass(frozen=True)
class UploadResult:
    version: Version
    uploaded_files: int
    uploaded_bytes: int
    seconds: float


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _scan(directory: Path) -> list[tuple[str, Path]]:
    """Files to checkpoint, relative path first; hidden temporaries (`.x.tmp`) and symlinks are skipped."""
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink() and not path.name.endswith((".tmp", ".partial")):
            found.append((path.relative_to(directory).as_posix(), path))
    return found


class CheckpointStore:
    """A job's checkpoint versions at `url`. One writer at a time (the job's current attempt)."""

    def __init__(self, url: str, backend: Backend | None = None, **options: Any) -> None:
        self.url = url
        self.backend = backend or open_backend(url, **options)
        self._hash_cache: dict[str, tuple[int, int, str]] = {}  # path -> (size, mtime_ns, sha256)
        self._written: set[str] = set()  # blobs this process uploaded (reused after an interrupted upload)
        self.last_restored_bytes = 0  # what the latest `restore` downloaded (placement learns transfer rates)

    # -- reading ------------------------------------------------------------------------------------

    def latest(self) -> Version | None:
        raw = self.backend.get_bytes(LATEST)
        if raw is None:
            return None
        return self.read_version(json.loads(raw)["version"])

    def read_version(self, version: str) -> Version:
        raw = self.backend.get_bytes(f"versions/{version}.json")
        if raw is None:
            raise CheckpointStorageError(f"{self.url}: version {version} has no manifest")
        doc = json.loads(raw)
        return Version(doc["version"], doc["files"], doc["created_at"], doc.get("meta", {}))

    def versions(self) -> list[str]:
        return sorted(k.removeprefix("versions/").removesuffix(".json") for k in self.backend.list("versions/")
                      if k.endswith(".json"))

    def restore(self, directory: Path) -> Version | None:
        """Put `latest` into `directory` (files it does not list are removed). None when there is no checkpoint."""
        version = self.latest()
        self.last_restored_bytes = 0
        if version is None:
            return None
        directory.mkdir(parents=True, exist_ok=True)
        for rel, path in _scan(directory):
            if rel not in version.files:
                path.unlink()
        for rel, info in version.files.items():
            target = directory / rel
            if target.is_file() and self._digest(target) == info["sha256"]:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            self.backend.get_file(f"blobs/{info['sha256']}", partial)
            if _sha256(partial) != info["sha256"]:
                partial.unlink(missing_ok=True)
                raise CheckpointStorageError(f"{self.url}: blob for {rel} does not match its manifest")
            os.replace(partial, target)
            self.last_restored_bytes += int(info["size"])
            self._digest(target)
        return version

    # -- writing ------------------------------------------------------------------------------------

    def _digest(self, path: Path) -> str:
        stat = path.stat()
        cached = self._hash_cache.get(str(path))
        if cached and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns:
            return cached[2]
        digest = _sha256(path)
        self._hash_cache[str(path)] = (stat.st_size, stat.st_mtime_ns, digest)
        return digest

    def upload(self, directory: Path, meta: dict[str, Any] | None = None, *,
               on_blob: Callable[[str], None] | None = None, force: bool = False) -> UploadResult | None:
        """Publish `directory` as a new version; None when nothing changed since `latest` (unless `force`).

        `on_blob` is called after each blob upload (progress reporting; tests use it to crash mid-upload).
        """
        started = time.monotonic()
        previous = self.latest()
        files = {rel: {"sha256": self._digest(path), "size": path.stat().st_size} for rel, path in _scan(directory)}
        if not files:
            return None
        if previous is not None and not force and {k: v["sha256"] for k, v in files.items()} == {
                k: v["sha256"] for k, v in previous.files.items()}:
            return None
        known = ({f["sha256"] for f in previous.files.values()} if previous else set()) | self._written
        uploaded, uploaded_bytes = 0, 0
        for rel, info in files.items():
            if info["sha256"] in known:
                continue
            self.backend.put_file(f"blobs/{info['sha256']}", directory / rel)
            known.add(str(info["sha256"]))
            self._written.add(str(info["sha256"]))
            uploaded, uploaded_bytes = uploaded + 1, uploaded_bytes + int(str(info["size"]))
            if on_blob:
                on_blob(rel)
        number = int(previous.version) + 1 if previous else 1
        version = Version(f"{number:06d}", files, time.time(), dict(meta or {}))
        manifest = {"version": version.version, "files": files, "created_at": version.created_at,
                    "meta": version.meta}
        self.backend.put_bytes(f"versions/{version.version}.json", json.dumps(manifest, sort_keys=True).encode())
        self.backend.put_bytes(LATEST, json.dumps({"version": version.version}).encode())
        return UploadResult(version, uploaded, uploaded_bytes, time.monotonic() - started)

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest `keep` versions (never `latest`) and blobs no kept version references."""
        latest = self.latest()
        names = self.versions()
        kept = set(names[-max(1, keep):]) | ({latest.version} if latest else set())
        dropped = [n for n in names if n not in kept]
        if not dropped:
            return []
        self.backend.delete([f"versions/{n}.json" for n in dropped])
        live = set()
        for name in kept:
            live |= {f["sha256"] for f in self.read_version(name).files.values()}
        # Blobs newer than the newest kept manifest may belong to an upload in progress: only the writer prunes,
        # after its own upload, so every blob it wrote is referenced by now.
        dead = [k for k in self.backend.list("blobs/") if k.removeprefix("blobs/") not in live]
        self.backend.delete(dead)
        self._written -= {k.removeprefix("blobs/") for k in dead}
        return dropped
