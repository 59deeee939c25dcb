"""`submit --wait`'s story lines from job snapshots: each fact once, waits with their reason, in order."""

from __future__ import annotations

from typing import Any

from orchestrator.client.narrate import Story


def _attempt(n: int, state: str, zone: str, **extra: Any) -> dict[str, Any]:
    return {"number": n, "state": state, "zone": zone, "instance_id": f"i-{n}", "instance_type": "g4dn.xlarge",
            "spot": True, "price_per_hour": 0.1949, "started_at": "t", "end_reason": None, **extra}


def test_each_fact_is_told_once_and_waits_say_why() -> None:
    story = Story()
    pending = {"state": "BLOCKED_BUDGET", "reason": "budget team-a is blocked at 100%", "attempt_list": []}
    assert story.lines(pending) == ["waiting (BLOCKED_BUDGET): budget team-a is blocked at 100%"]
    assert story.lines(pending) == []
    running = {"state": "RUNNING", "reason": "", "restarts": 0, "attempt_list": [_attempt(1, "RUNNING", "z-b")]}
    assert story.lines(running) == ["attempt 1 started on instance i-1 (g4dn.xlarge spot, $0.19/h) in z-b"]
    assert story.lines(running) == []
    resumed: dict[str, Any] = {"state": "RUNNING", "reason": "", "restarts": 1, "attempt_list": [
        _attempt(1, "PREEMPTED", "z-b", end_reason="preemption notice"),
        _attempt(2, "RUNNING", "z-a", resumed_from="000003")]}
    assert story.lines(resumed) == [
        "attempt 1 PREEMPTED in z-b (i-1): preemption notice; the job restarts (restart 1)",
        "attempt 1 PREEMPTED in z-b -> resuming from checkpoint 000003 on z-a (attempt 2, instance i-2 "
        "(g4dn.xlarge spot, $0.19/h))"]
    failed = {"state": "FAILED", "reason": "exit code 3", "restarts": 1, "attempt_list": [
        *resumed["attempt_list"][:1], _attempt(2, "FAILED", "z-a", end_reason="exit code 3")]}
    assert story.lines(failed) == ["attempt 2 FAILED in z-a (i-2): exit code 3"]


def test_a_restart_without_a_checkpoint_says_it_starts_over() -> None:
    job = {"state": "RUNNING", "reason": "", "restarts": 1, "attempt_list": [
        _attempt(1, "LOST", "z-b", end_reason="instance vanished"), _attempt(2, "RUNNING", "z-b")]}
    assert Story().lines(job)[-1].startswith("attempt 1 LOST in z-b -> starting over (no checkpoint to resume from)")
