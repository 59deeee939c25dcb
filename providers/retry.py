"""One shared retry helper for transient and throttling errors, used inside every adapter.

Only `TransientError` (and its subclass `ThrottledError`) is retried; everything else is a
decision for the core and surfaces at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from providers.errors import TransientError

T = TypeVar("T")


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = 4,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run `call`, retrying TransientError with full-jitter exponential backoff."""
    rand = rng or random.Random()
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except TransientError:
            if attempt == attempts:
                raise
            sleep(rand.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1))))
    raise AssertionError("unreachable")  # pragma: no cover
