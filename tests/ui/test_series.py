"""The spend series spreads each ledger entry over the buckets it overlaps, so bucket sums equal the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.ui.series import Piece, bucket_costs

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_an_entry_across_buckets_is_split_by_seconds() -> None:
    pieces = [Piece("vision", T0 + 30 * timedelta(seconds=1), T0 + 150 * timedelta(seconds=1), 1.2),
              Piece("demo", T0, T0 + MIN, 0.5)]
    starts, costs = bucket_costs(pieces, T0, T0 + 3 * MIN, MIN)
    assert starts == [T0, T0 + MIN, T0 + 2 * MIN]
    assert costs["vision"] == pytest.approx([0.3, 0.6, 0.3])
    assert costs["demo"] == pytest.approx([0.5, 0.0, 0.0])


def test_only_the_part_inside_the_window_counts_and_a_partial_last_bucket_exists() -> None:
    pieces = [Piece("aws", T0 - MIN, T0 + MIN, 2.0), Piece("aws", T0 + 10 * MIN, T0 + 11 * MIN, 9.0)]
    starts, costs = bucket_costs(pieces, T0, T0 + 90 * timedelta(seconds=1), MIN)
    assert len(starts) == 2
    assert costs["aws"] == pytest.approx([1.0, 0.0])


def test_an_empty_window_is_refused() -> None:
    with pytest.raises(ValueError):
        bucket_costs([], T0, T0, MIN)
