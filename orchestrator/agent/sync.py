"""The agent's checkpoint sync: restore `latest` before the job starts, upload every interval and after the job
stops, prune old versions, and tell the daemon each version (the progress the deadline policy estimates from).

Upload failures are logged and retried at the next interval: a flaky bucket must not kill a healthy job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.checkpoint import CheckpointStorageError, CheckpointStore, Version

Report = Callable[[dict[str, Any]], None]


class CheckpointSync:
    def __init__(self, store: CheckpointStore, directory: Path, *, interval: float, keep: int,
                 report: Report, log: Callable[[str], None]) -> None:
        self.store, self.directory = store, directory
        self.interval, self.keep = interval, keep
        self.report, self.log = report, log
        self.uploading = threading.Event()  # heartbeats say so: the idle sweep never stops an upload
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def restore(self) -> Version | None:
        started = time.monotonic()
        try:
            version = self.store.restore(self.directory)
        except (CheckpointStorageError, OSError) as exc:
            self.log(f"checkpoint restore from {self.store.url} failed: {exc}; starting without it")
            return None
        if version is not None:
            self.log(f"restored checkpoint {version.version} ({len(version.files)} files) from {self.store.url}")
            self._report("restored", version, transferred_bytes=self.store.last_restored_bytes,
                         seconds=round(time.monotonic() - started, 3))
        return version

    def upload_now(self, why: str) -> Version | None:
        """One upload (serialised with the periodic one); returns the new version, None when unchanged/failed."""
        with self._lock:
            self.uploading.set()
            try:
                result = self.store.upload(self.directory, {"why": why})
                if result is None:
                    return None
                self.log(f"uploaded checkpoint {result.version.version} ({why}): {result.uploaded_files} changed "
                         f"file(s), {result.uploaded_bytes} bytes in {result.seconds:.2f}s")
                self._report("uploaded", result.version, why=why, uploaded_bytes=result.uploaded_bytes,
                             transferred_bytes=result.uploaded_bytes, seconds=round(result.seconds, 3))
                self.store.prune(self.keep)
                return result.version
            except (CheckpointStorageError, OSError, ValueError) as exc:
                self.log(f"checkpoint upload to {self.store.url} failed: {exc}")
                return None
            except Exception as exc:  # noqa: BLE001 - an SDK error of any type must not kill the agent
                self.log(f"checkpoint upload to {self.store.url} failed: {type(exc).__name__}: {exc}")
                return None
            finally:
                self.uploading.clear()

    def _report(self, event: str, version: Version, **extra: Any) -> None:
        try:
            self.report({"event": event, "version": version.version, "files": len(version.files),
                         "bytes": version.total_bytes, **extra})
        except Exception as exc:  # noqa: BLE001 - reporting is best effort; the store is the truth
            self.log(f"checkpoint report failed: {exc}")

    def _periodic(self) -> None:
        while not self._stop.wait(self.interval):
            self.upload_now("interval")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._periodic, name="checkpoint-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=60)
