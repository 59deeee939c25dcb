"""Fixtures shared by the unit tests that need a PostgreSQL they may stop and start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.pgcluster import ThrowawayPostgres, unavailable_reason

NO_PG = unavailable_reason()


@pytest.fixture
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    """A PostgreSQL cluster of the test's own (never the shared one on 5432), removed afterwards."""
    if NO_PG is not None:
        pytest.skip(f"no throwaway PostgreSQL: {NO_PG}")
    with ThrowawayPostgres() as cluster:
        yield cluster
