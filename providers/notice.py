"""What a preemption notice is, and what a cloud's notice watcher must do.

These types sit at the providers level, not in the agent, so that a cloud package (built in or installed by
entry point) can bring its own watcher without importing `orchestrator`: the agent asks the cloud plugin
registry (providers/plugin.py) for the watcher named by SPOTWISE_NOTICE and only ever sees this protocol.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

REBALANCE = "rebalance"  # an early hint, not a reclaim: the agent checkpoints and keeps running
HOST_MIGRATION = "host-migration"  # GCE live-migrates the VM: a pause, not a stop; checkpoint and keep running
HOST_MAINTENANCE = "host-maintenance"  # GCE stops the VM for host maintenance: checkpoint and stop, as preempted
HINTS = frozenset({REBALANCE, HOST_MIGRATION})  # notices after which the job keeps running


@dataclass(frozen=True)
class Notice:
    action: str
    deadline: datetime
    event_id: str | None = None  # Azure's EventId, needed to acknowledge

    def seconds_left(self) -> float:
        return max(0.0, (self.deadline - datetime.now(UTC)).total_seconds())

    def __str__(self) -> str:
        return f"{self.action} at {self.deadline.isoformat()} ({self.seconds_left():.1f}s left)"


class NoticeWatcher(Protocol):
    def wait(self, stop: threading.Event) -> Notice | None:
        """Block until a notice arrives (returned) or `stop` is set (None). Called again after a rebalance hint."""
        ...

    def acknowledge(self, notice: Notice) -> None:
        """Tell the cloud the instance is ready to go (checkpoint safe). A no-op where the cloud has no such call."""
        ...


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as clouds write it (a trailing Z allowed); a naive time is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
