"""The local provider's "cloud database": one JSON file per instance under its state directory.

Files outlive the daemon, as a cloud's records do, so a restarted daemon (or a second process on
the same machine) sees the same instances. Writes are atomic (temp file + rename) and serialised
by an advisory file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class InstanceRecord:
    id: str
    idempotency_key: str
    region: str
    zone: str
    instance_type: str
    spot: bool
    price_per_hour: float
    launched_at: str
    tags: dict[str, str] = field(default_factory=dict)
    pid: int | None = None
    terminated_at: str | None = None
    preempt_at: str | None = None  # set by a preemption: the notice deadline
    preempted: bool = False
    state_reason: str = ""


class RecordStore:
    """Atomic JSON records keyed by instance id."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "instances"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_path = root / ".lock"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with open(self._lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def path(self, instance_id: str) -> Path:
        return self.dir / f"{instance_id}.json"

    def instance_dir(self, instance_id: str) -> Path:
        return self.dir / instance_id

    def get(self, instance_id: str) -> InstanceRecord | None:
        try:
            data: dict[str, Any] = json.loads(self.path(instance_id).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return InstanceRecord(**data)

    def put(self, record: InstanceRecord) -> None:
        target = self.path(record.id)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record)))
        os.replace(tmp, target)

    def all(self) -> list[InstanceRecord]:
        records = []
        for path in sorted(self.dir.glob("*.json")):
            record = self.get(path.stem)
            if record is not None:
                records.append(record)
        return records
