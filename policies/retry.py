"""What to do after an attempt ends without success: the pure recovery rules the daemon applies.

- A preemption (spot reclaim, notice seen) is the cloud's doing: place again at once, never counted against
  `max_restarts`, and avoid the pool that was just reclaimed for a while.
- An infrastructure failure (the instance vanished, the agent went silent, a launch that never came up) is not
  the job's fault either, but repeated ones suggest a bad pool or image: place again with exponential backoff,
  avoiding that pool, up to `max_restarts` infrastructure restarts.
- A user failure is the command's own non-zero exit. It restarts only when the spec lists that exit code in
  `restart_exit_codes`, and only up to `max_restarts` user restarts, with backoff; otherwise the job fails.
No I/O: the daemon passes in counts read from its attempts table, so a restarted daemon decides the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    PREEMPTED = "preempted"
    INFRA = "infrastructure"
    USER = "user"


@dataclass(frozen=True, slots=True)
class RetryInput:
    outcome: Outcome
    exit_code: int | None
    restart_exit_codes: tuple[int, ...]
    max_restarts: int
    infra_failures: int  # earlier infrastructure failures of this job (this one not included)
    user_failures: int  # earlier user failures of this job that were restarted (this one not included)
    consecutive_failures: int  # non-success endings in a row, this one included (backoff exponent)
    base_backoff_seconds: float = 5.0
    max_backoff_seconds: float = 300.0
    reclaimed_pool_block_seconds: float = 600.0


@dataclass(frozen=True, slots=True)
class RetryDecision:
    retry: bool
    delay_seconds: float
    avoid_pool_seconds: float  # block the pool of the attempt that just ended this long (0: do not)
    reason: str


def backoff(consecutive: int, base: float, cap: float) -> float:
    """base, 2 base, 4 base, ... capped; 0 for the first failure so a single blip costs nothing."""
    if consecutive <= 1:
        return 0.0
    return float(min(cap, base * 2 ** min(consecutive - 2, 16)))


def classify(*, preempted: bool, exit_code: int | None) -> Outcome:
    """A notice or a reclaim is a preemption; an exit code the job reported is the user's; the rest is infra."""
    if preempted:
        return Outcome.PREEMPTED
    if exit_code is not None:
        return Outcome.USER
    return Outcome.INFRA


def decide(r: RetryInput) -> RetryDecision:
    if r.outcome is Outcome.PREEMPTED:
        return RetryDecision(True, 0.0, r.reclaimed_pool_block_seconds,
                             "preempted: placing again at once (not counted against max_restarts), "
                             f"avoiding the reclaimed pool for {r.reclaimed_pool_block_seconds:g}s")
    delay = backoff(r.consecutive_failures, r.base_backoff_seconds, r.max_backoff_seconds)
    if r.outcome is Outcome.INFRA:
        if r.infra_failures >= r.max_restarts:
            return RetryDecision(False, 0.0, 0.0, f"infrastructure failure; max_restarts ({r.max_restarts}) reached")
        return RetryDecision(True, delay, r.reclaimed_pool_block_seconds,
                             f"infrastructure failure {r.infra_failures + 1} of at most {r.max_restarts}: "
                             f"placing again in {delay:g}s on another pool")
    if r.exit_code not in r.restart_exit_codes:
        listed = ", ".join(map(str, r.restart_exit_codes)) or "none"
        return RetryDecision(False, 0.0, 0.0,
                             f"exit code {r.exit_code} is a user failure not listed in restart_exit_codes ({listed})")
    if r.user_failures >= r.max_restarts:
        return RetryDecision(False, 0.0, 0.0,
                             f"exit code {r.exit_code}; max_restarts ({r.max_restarts}) reached")
    return RetryDecision(True, delay, 0.0, f"exit code {r.exit_code} is listed in restart_exit_codes: restart "
                         f"{r.user_failures + 1} of at most {r.max_restarts} in {delay:g}s")
