"""Idle verdicts from heartbeats and utilisation history. Pure.

An instance is idle when, for the whole window, no job process ran on it (phase not 'running',
or its attempt ended) or the GPU utilisation stayed under the threshold. A heartbeat without a
utilisation figure (no GPU, no NVML) counts as busy when the job runs: no evidence, no shutdown.
The first idle verdict sends the pre-shutdown alert; shutdown comes only after the grace period
from that alert, and never while the agent reports a checkpoint upload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Sample:
    at: datetime
    phase: str
    gpu_utilization: float | None
    checkpoint_uploading: bool = False


@dataclass(frozen=True)
class IdleVerdict:
    action: str  # none | warn | shutdown | wait_upload | clear
    reason: str


def _idle_sample(s: Sample, threshold: float) -> bool:
    if s.phase != "running":
        return True
    return s.gpu_utilization is not None and s.gpu_utilization < threshold


def idle_verdict(*, samples: Sequence[Sample], now: datetime, active_since: datetime, job_running: bool,
                 threshold: float, window_s: float, grace_s: float, warned_at: datetime | None) -> IdleVerdict:
    """Decide for one instance. `job_running` is False once its attempt ended (the job is gone)."""
    window_start = now - timedelta(seconds=window_s)
    recent = [s for s in samples if s.at >= window_start]
    if job_running:
        if active_since > window_start:
            return _clear(warned_at, "younger than the idle window")
        if not recent:
            return _clear(warned_at, "no heartbeat in the window (the heartbeat timeout handles that)")
        busy = [s for s in recent if not _idle_sample(s, threshold)]
        if busy:
            return _clear(warned_at, f"busy: GPU at {busy[-1].gpu_utilization}%")
        why = (f"GPU utilisation under {threshold:g}% for {window_s:g}s" if all(s.phase == "running" for s in recent)
               else f"no job process running for {window_s:g}s")
    else:
        if active_since > window_start:
            return IdleVerdict("none", "job ended less than the idle window ago")
        why = f"its job ended and it has run no job for {window_s:g}s"
    if warned_at is None:
        return IdleVerdict("warn", why)
    if now < warned_at + timedelta(seconds=grace_s):
        return IdleVerdict("none", f"{why}; in grace until {(warned_at + timedelta(seconds=grace_s)).isoformat()}")
    if samples and samples[-1].checkpoint_uploading:
        return IdleVerdict("wait_upload", f"{why}; waiting for the checkpoint upload to finish")
    return IdleVerdict("shutdown", f"{why}; grace of {grace_s:g}s over")


def _clear(warned_at: datetime | None, why: str) -> IdleVerdict:
    return IdleVerdict("clear" if warned_at is not None else "none", why)
