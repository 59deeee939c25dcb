"""Run one Azure SDK call: classify its failure once, retry what is retryable, honour Retry-After.

The SDK's own retries are off (clients.py), so this is the only retry layer: the shared helper
(`providers.retry.with_retries`) decides when to retry, and the sleep it asks for is stretched to
the server's Retry-After hint when ARM throttled us (429), capped so one call cannot stall a loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from providers.azure.errors import classify, retry_after_seconds
from providers.errors import ThrottledError
from providers.retry import with_retries

T = TypeVar("T")


@dataclass
class Caller:
    """Retry settings plus an injectable sleep (tests record delays instead of waiting)."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def __call__(self, fn: Callable[[], T]) -> T:
        """Run `fn`, raising only classified ProviderErrors (the SDK's exception is the __cause__)."""
        hint: list[float] = []

        def attempt() -> T:
            try:
                return fn()
            except Exception as exc:
                error = classify(exc)
                if isinstance(error, ThrottledError):
                    hint.append(retry_after_seconds(exc) or 0.0)
                if error is exc:
                    raise
                raise error from exc

        def pause(delay: float) -> None:
            wanted = max(delay, hint.pop() if hint else 0.0)
            self.sleep(min(wanted, self.max_retry_after))

        return with_retries(
            attempt, attempts=self.attempts, base_delay=self.base_delay, max_delay=self.max_delay, sleep=pause
        )
