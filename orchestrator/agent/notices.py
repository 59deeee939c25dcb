"""Preemption notice watchers. The agent polls the one named by SPOTWISE_NOTICE.

`local:PATH` is the local provider's notice (a JSON file it writes before reclaiming a spot
instance, shaped like AWS's instance-action document). The cloud watchers (AWS IMDSv2, GCP
metadata, Azure Scheduled Events) plug in here with the same `wait` interface.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Notice:
    action: str
    deadline: datetime

    def seconds_left(self) -> float:
        return max(0.0, (self.deadline - datetime.now(UTC)).total_seconds())

    def __str__(self) -> str:
        return f"{self.action} at {self.deadline.isoformat()} ({self.seconds_left():.1f}s left)"


class NoticeWatcher(Protocol):
    def wait(self, stop: threading.Event) -> Notice | None:
        """Block until a notice arrives (returned) or `stop` is set (None)."""
        ...


class LocalFileNotice:
    def __init__(self, path: Path, poll_seconds: float = 0.25) -> None:
        self.path = path
        self.poll_seconds = poll_seconds

    def wait(self, stop: threading.Event) -> Notice | None:
        while not stop.wait(self.poll_seconds):
            try:
                doc = json.loads(self.path.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            return Notice(action=str(doc.get("action", "terminate")), deadline=datetime.fromisoformat(doc["time"]))
        return None


def watcher_for(source: str) -> NoticeWatcher | None:
    kind, _, arg = source.partition(":")
    if kind == "local" and arg:
        return LocalFileNotice(Path(arg))
    return None
