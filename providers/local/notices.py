"""The local provider's preemption notice: a JSON file (shaped like AWS's instance-action document) that
the provider writes before it kills a spot instance; the watcher polls for it. SPOTWISE_NOTICE=local:PATH."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from providers.notice import Notice, parse_time


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
            return Notice(action=str(doc.get("action", "terminate")), deadline=parse_time(doc["time"]))
        return None

    def acknowledge(self, notice: Notice) -> None:
        return None
