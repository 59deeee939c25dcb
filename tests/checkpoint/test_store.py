"""Versioned checkpoint storage on file://, S3 (moto), GCS (gcp-storage-emulator) and Azure Blob (azurite)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.checkpoint import CheckpointStorageError, CheckpointStore


class Crash(Exception):
    pass


def _write(directory: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_bytes(data)


def test_upload_restore_only_changed_files_and_prune(store: CheckpointStore, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    assert store.latest() is None and store.restore(dst) is None
    _write(src, {"model.npz": b"w" * 5000, "opt/state.bin": b"o" * 3000, "step.txt": b"1"})
    first = store.upload(src, {"attempt": 1})
    assert first is not None and first.version.version == "000001" and first.uploaded_files == 3
    assert store.upload(src) is None  # nothing changed: no new version
    _write(src, {"step.txt": b"2"})
    second = store.upload(src)
    assert second is not None and second.version.version == "000002"
    assert second.uploaded_files == 1 and second.uploaded_bytes == 1  # only the changed file went up
    (dst / "stale.bin").parent.mkdir(parents=True)
    (dst / "stale.bin").write_bytes(b"from an older run")
    restored = store.restore(dst)
    assert restored is not None and restored.version == "000002"
    assert {p.relative_to(dst).as_posix(): p.read_bytes() for p in dst.rglob("*") if p.is_file()} == {
        "model.npz": b"w" * 5000, "opt/state.bin": b"o" * 3000, "step.txt": b"2"}
    for step in (3, 4, 5):
        _write(src, {"model.npz": bytes([step]) * 100, "step.txt": str(step).encode()})
        store.upload(src)
    assert store.prune(keep=2) == ["000001", "000002", "000003"]
    assert store.versions() == ["000004", "000005"]
    blobs = store.backend.list("blobs/")
    assert len(blobs) == 5  # opt/state.bin + model/step of versions 4 and 5
    restored = store.restore(dst)
    assert restored is not None and (dst / "model.npz").read_bytes() == bytes([5]) * 100


def test_crash_mid_upload_keeps_previous_latest(store: CheckpointStore, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _write(src, {"a.bin": b"a1", "b.bin": b"b1"})
    assert store.upload(src) is not None
    _write(src, {"a.bin": b"a2", "b.bin": b"b2"})

    def crash(_: str) -> None:
        raise Crash("instance reclaimed mid-upload")

    with pytest.raises(Crash):
        store.upload(src, on_blob=crash)
    latest = store.latest()
    assert latest is not None and latest.version == "000001"
    store.restore(dst)
    assert (dst / "a.bin").read_bytes() == b"a1" and (dst / "b.bin").read_bytes() == b"b1"
    # The next upload completes and becomes latest; the orphan blob of the crash is reused, not re-uploaded.
    result = store.upload(src)
    assert result is not None and result.version.version == "000002" and result.uploaded_files == 1


_KILLED_UPLOADER = """
import sys, time
from pathlib import Path
from orchestrator.checkpoint import CheckpointStore
store = CheckpointStore(sys.argv[1])
def slow(rel):
    print("uploaded", rel, flush=True)
    time.sleep(30)
store.upload(Path(sys.argv[2]), on_blob=slow)
"""


def test_sigkill_mid_upload_on_file_store(tmp_path: Path) -> None:
    """A real process killed with SIGKILL after its first blob: `latest` still names the previous version."""
    url = f"file://{tmp_path / 'store'}"
    src = tmp_path / "src"
    _write(src, {"a.bin": b"1", "b.bin": b"2"})
    store = CheckpointStore(url)
    assert store.upload(src) is not None
    _write(src, {"a.bin": b"changed", "b.bin": b"changed too"})
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_UPLOADER, url, str(src)], stdout=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None and proc.stdout.readline().startswith(b"uploaded")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    latest = CheckpointStore(url).latest()
    assert latest is not None and latest.version == "000001"
    store.restore(tmp_path / "dst")
    assert (tmp_path / "dst" / "a.bin").read_bytes() == b"1"


def test_bad_urls_are_clear_errors() -> None:
    with pytest.raises(CheckpointStorageError, match="names no bucket"):
        CheckpointStore("s3:///no-bucket")


def test_upload_of_many_small_files_is_quick(tmp_path: Path) -> None:
    store = CheckpointStore(f"file://{tmp_path / 'store'}")
    _write(tmp_path / "src", {f"shard-{i:03d}.bin": os.urandom(1024) for i in range(200)})
    started = time.monotonic()
    assert store.upload(tmp_path / "src") is not None
    assert time.monotonic() - started < 10
