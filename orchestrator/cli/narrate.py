"""What `submit --wait` says while a job runs: each attempt's instance and zone, a preemption and where the job
resumed from, waits with their reason, and how it ended.

Why: the live status line is gone from a piped log (CI, `| tee`), and it only ever showed the present; a team
watching a spot job wants the story ("attempt 1 PREEMPTED in local-east-b -> resuming from checkpoint 000003 on
local-east-a"). Pure: job snapshots in (the API's view of one job), lines out, each fact told once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policies.money import rate

FINAL_ATTEMPT = {"SUCCEEDED", "FAILED", "PREEMPTED", "LOST", "CANCELLED", "STOPPED"}
WAITING = {"WAITING_CAPACITY", "BLOCKED_BUDGET", "PENDING"}


def _instance(a: dict[str, Any]) -> str:
    market = "spot" if a.get("spot") else "on-demand"
    return (f"instance {a.get('instance_id') or '?'} ({a.get('instance_type')} {market}, "
            f"{rate(float(a.get('price_per_hour') or 0.0))})")


@dataclass
class Story:
    """Remembers what was told; `lines(job)` returns only what is new since the last snapshot."""

    running: set[int] = field(default_factory=set)
    ended: set[int] = field(default_factory=set)
    waiting: tuple[str, str] | None = None

    def lines(self, job: dict[str, Any]) -> list[str]:
        out: list[str] = []
        attempts = {a["number"]: a for a in job.get("attempt_list") or []}
        for n, a in sorted(attempts.items()):
            started = bool(a.get("started_at")) or a["state"] in FINAL_ATTEMPT
            if n not in self.running and started and a.get("instance_id"):
                self.running.add(n)
                out.append(self._started(a, attempts.get(n - 1)))
            if n not in self.ended and a["state"] in FINAL_ATTEMPT:
                self.ended.add(n)
                if a["state"] != "SUCCEEDED":
                    out.append(self._ended(job, a))
        state, reason = job["state"], job.get("reason") or ""
        if state in WAITING and (state, reason) != self.waiting and (state != "PENDING" or reason):
            self.waiting = (state, reason)
            out.append(f"waiting ({state}): {reason or '-'}")
        elif state not in WAITING:
            self.waiting = None
        return out

    @staticmethod
    def _started(a: dict[str, Any], previous: dict[str, Any] | None) -> str:
        if previous is None:
            return f"attempt {a['number']} started on {_instance(a)} in {a['zone']}"
        resume = (f"resuming from checkpoint {a['resumed_from']}" if a.get("resumed_from")
                  else "starting over (no checkpoint to resume from)")
        return (f"attempt {previous['number']} {previous['state']} in {previous['zone']} -> {resume} on "
                f"{a['zone']} (attempt {a['number']}, {_instance(a)})")

    @staticmethod
    def _ended(job: dict[str, Any], a: dict[str, Any]) -> str:
        why = a.get("end_reason") or job.get("reason") or "-"
        line = f"attempt {a['number']} {a['state']} in {a['zone']} ({a.get('instance_id') or '?'}): {why}"
        if job["state"] not in ("FAILED", "CANCELLED", "SUCCEEDED"):
            line += f"; the job restarts (restart {job.get('restarts', 0)})"
        return line
