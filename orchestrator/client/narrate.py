"""What `submit --wait` and `Client.wait` say while a job runs: each attempt's instance and zone, a preemption and where
the job resumed from, waits with their reason, and how it ended.

Why: the live status line is gone from a piped log (CI, `| tee`), and it only ever showed the present; a team
watching a spot job wants the story ("attempt 1 PREEMPTED in local-east-b -> resuming from checkpoint 000003 on
local-east-a"). Pure: job snapshots in (the API's view of one job), events out, each fact told once; an event's
`text` is the line the CLI prints, its `kind` what a program branches on (e.g. "preempted").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from policies.money import rate

FINAL_ATTEMPT = {"SUCCEEDED", "FAILED", "PREEMPTED", "LOST", "CANCELLED", "STOPPED"}
WAITING = {"WAITING_CAPACITY", "BLOCKED_BUDGET", "PENDING"}

EventKind = Literal["snapshot", "waiting", "attempt_started", "attempt_restarted", "preempted", "attempt_ended",
                    "log", "finished"]


@dataclass(frozen=True)
class WaitEvent:
    """One thing `Client.wait` saw, in order. Kinds:

    - "snapshot": every poll, the job as it is now (`text` is its state; for progress bars and spend);
    - "waiting": the job waits (WAITING_CAPACITY, BLOCKED_BUDGET, ...), `text` says why;
    - "attempt_started": the first attempt runs on an instance; `attempt` is it;
    - "attempt_restarted": a later attempt runs, after the previous one ended (`text` says whether it resumed
      from a checkpoint, `attempt["resumed_from"]`);
    - "preempted": an attempt's spot instance was reclaimed; `attempt` is the ended attempt;
    - "attempt_ended": an attempt ended otherwise than SUCCEEDED or PREEMPTED (FAILED, LOST, ...);
    - "log": output of the job: `stream` ("stdout"/"stderr") and `data` (text, may hold several lines);
    - "finished": the job ended and its output is all read; `job` is final.
    """

    kind: EventKind
    job: dict[str, Any]
    text: str = ""
    attempt: dict[str, Any] | None = None
    stream: str | None = None
    data: str | None = None


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
        """The new story lines for this snapshot."""
        return [e.text for e in self.events(job)]

    def events(self, job: dict[str, Any]) -> list[WaitEvent]:
        """The new story events for this snapshot (no "snapshot", "log" or "finished": `Client.wait` adds them)."""
        out: list[WaitEvent] = []
        attempts = {a["number"]: a for a in job.get("attempt_list") or []}
        for n, a in sorted(attempts.items()):
            started = bool(a.get("started_at")) or a["state"] in FINAL_ATTEMPT
            if n not in self.running and started and a.get("instance_id"):
                self.running.add(n)
                previous = attempts.get(n - 1)
                kind: EventKind = "attempt_started" if previous is None else "attempt_restarted"
                out.append(WaitEvent(kind, job, self._started(a, previous), attempt=a))
            if n not in self.ended and a["state"] in FINAL_ATTEMPT:
                self.ended.add(n)
                if a["state"] != "SUCCEEDED":
                    kind = "preempted" if a["state"] == "PREEMPTED" else "attempt_ended"
                    out.append(WaitEvent(kind, job, self._ended(job, a), attempt=a))
        state, reason = job["state"], job.get("reason") or ""
        if state in WAITING and (state, reason) != self.waiting and (state != "PENDING" or reason):
            self.waiting = (state, reason)
            out.append(WaitEvent("waiting", job, f"waiting ({state}): {reason or '-'}"))
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


def status_line(job: dict[str, Any]) -> str:
    """The job now, in one line: state, where its latest attempt runs, and its cost so far."""
    from policies.money import usd

    attempt = (job.get("attempt_list") or [{}])[-1]
    where = f" on {attempt.get('instance_type')} in {attempt.get('zone')}" if attempt else ""
    return f"{job['id']}: {job['state']}{where}  {usd(job['cost_usd'])}"


def summary_line(job: dict[str, Any]) -> str:
    """How a job ended, in one line: state, exit code, cost, attempts, and why when it did not succeed."""
    from policies.money import usd

    exit_part = f", exit code {job['exit_code']}" if job.get("exit_code") is not None else ""
    line = f"job {job['id']} {job['state']}{exit_part}: cost {usd(job['cost_usd'])}, attempts {job['attempts']}"
    if job["state"] != "SUCCEEDED" and job.get("reason"):
        line += f" ({job['reason']})"
    return line
