"""A failed live price refresh is retried after a short backoff, not after the whole refresh interval."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.catalog.pricing import _due_before
from orchestrator.config import Settings
from orchestrator.store.tables import PriceSource
from orchestrator.store.types import utcnow


def test_a_failed_refresh_is_due_again_after_the_retry_backoff() -> None:
    """Found by the chaos harness: a throttled first fetch left no offers for 600 s, every job waiting."""
    settings = Settings(price_refresh_interval_seconds=600, retry_backoff_seconds=5)
    regular = utcnow() - timedelta(seconds=600)
    assert _due_before(settings, None, regular) == regular
    healthy = PriceSource(cloud="x", source="live", failures=0)
    assert _due_before(settings, healthy, regular) == regular
    failed = PriceSource(cloud="x", source="live", failures=1)
    due = _due_before(settings, failed, regular)
    assert timedelta(seconds=4) < utcnow() - due < timedelta(seconds=6)  # 5 s after the failed attempt
    many = PriceSource(cloud="x", source="live", failures=30)
    assert 315 < (utcnow() - _due_before(settings, many, regular)).total_seconds() < 325  # 5 s x 2^6
    slow = Settings(price_refresh_interval_seconds=600, retry_backoff_seconds=20)
    assert abs((_due_before(slow, many, regular) - regular).total_seconds()) < 1  # never past the interval
