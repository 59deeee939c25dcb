"""toycloud's preemption notice: a text file `ACTION SECONDS_LEFT`, written by the provider before it reclaims.

Deliberately not the local provider's JSON shape, so a test passing through it proves the agent used this watcher.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from providers.notice import Notice


class ToyNoticeFile:
    def __init__(self, path: Path, poll_seconds: float = 0.2) -> None:
        self.path = path
        self.poll_seconds = poll_seconds

    def wait(self, stop: threading.Event) -> Notice | None:
        while not stop.wait(self.poll_seconds):
            try:
                action, seconds = self.path.read_text().split()
                left = float(seconds)
            except (FileNotFoundError, ValueError):
                continue  # none yet, or half written
            return Notice(action=action, deadline=datetime.now(UTC) + timedelta(seconds=left))
        return None

    def acknowledge(self, notice: Notice) -> None:
        return None
