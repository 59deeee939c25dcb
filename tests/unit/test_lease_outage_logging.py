"""A lost lease connection is one throttled warning per database outage, not one per loop per tick.

Before, every failed `Leases.acquire` logged `lease_connection_lost` (28 warnings in 10 s on a daemon with a
0.5 s reconcile interval while PostgreSQL was down). The real `Leases` is driven against a PostgreSQL nobody
listens on (a closed port of 127.0.0.1) on a clock the test moves, then pointed at the real PostgreSQL to
recover; and against a throwaway cluster stopped under held leases and started again. Logs are captured with
structlog's own testing tool.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping, Sequence
from typing import Any

from structlog.testing import capture_logs

from orchestrator.cli.demo import free_port
from orchestrator.dberrors import WARN_EVERY_SECONDS
from orchestrator.leases import LOOPS, Leases
from orchestrator.store.db import make_engine
from tests.chaos.pgcluster import ThrowawayPostgres


def _entries(logs: Sequence[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == event]


def test_unreachable_postgres_is_one_lease_warning_per_interval_then_one_recovery(postgres_url: str) -> None:
    """Six loops tick at 0 s, 30 s and 61 s against the closed port: every acquire still answers False, the
    warnings are one at 0 s and one at 61 s counting the eleven attempts held back; once the database is
    reachable the first acquire that gets through logs `lease_connection_restored` once, then the lease."""
    assert WARN_EVERY_SECONDS == 60.0  # the moments below straddle it
    now = [0.0]
    down = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test")  # nothing listens there
    up = make_engine(postgres_url)
    leases = Leases(down, replica="test-replica", clock=lambda: now[0])
    try:
        with capture_logs() as logs:
            answers = []
            for moment in (0.0, 30.0, 61.0):
                now[0] = moment
                answers += [leases.acquire(name) for name in LOOPS]
            assert answers == [False] * 3 * len(LOOPS)  # unchanged: no lease, nothing raised
            leases.engine = up  # the database is reachable again (the lock engine is rebuilt from it)
            now[0] = 70.0
            assert leases.acquire("reconcile") and leases.acquire("reconcile") and leases.acquire("prices")
    finally:
        leases.release_all()
        down.dispose()
        up.dispose()
    warnings = _entries(logs, "lease_connection_lost")
    assert [(w["down_for_s"], w["failed_passes_since_last_warning"]) for w in warnings] == [(0.0, 0), (61.0, 11)]
    assert all(w["log_level"] == "warning" and "exc_info" not in w and w["held"] == [] for w in warnings)
    assert "Connection refused" in warnings[0]["error"] and "\n" not in warnings[0]["error"]
    [restored] = _entries(logs, "lease_connection_restored")
    assert restored["log_level"] == "info" and restored["down_for_s"] == 70.0 and restored["failed_passes"] == 18
    assert [e["loop"] for e in _entries(logs, "lease_acquired")] == ["reconcile", "prices"]
    assert [e for e in logs if e["log_level"] == "error"] == []


def test_held_leases_lost_in_a_postgres_stop_are_one_warning_and_retaken_after(
        throwaway_pg: ThrowawayPostgres) -> None:
    """A replica leading two loops on a real PostgreSQL that is stopped under it: leadership drops at once,
    the first failed tick's warning names the leases lost, the 20 ticks of every loop after it (real clock)
    add no line; after the start one `lease_connection_restored` and the leases are taken again."""
    engine = make_engine(throwaway_pg.url)
    leases = Leases(engine, replica="test-replica")
    try:
        with capture_logs() as logs:
            assert leases.acquire("reconcile") and leases.acquire("prices")
            throwaway_pg.stop("fast")
            try:
                for _ in range(20):
                    assert [leases.acquire(name) for name in LOOPS] == [False] * len(LOOPS)
                assert not leases.is_leader("reconcile") and not leases.is_leader("prices")
            finally:
                throwaway_pg.start()
            deadline = time.monotonic() + 30.0
            while not leases.acquire("reconcile"):
                assert time.monotonic() < deadline, "the lease was never taken again"
                time.sleep(0.2)
            assert leases.acquire("prices") and leases.is_leader("prices")
    finally:
        leases.release_all()
        engine.dispose()
    [warning] = _entries(logs, "lease_connection_lost")
    assert warning["log_level"] == "warning" and "exc_info" not in warning
    assert warning["held"] == ["prices", "reconcile"]
    [restored] = _entries(logs, "lease_connection_restored")
    assert restored["failed_passes"] >= 20 * len(LOOPS)
    assert [e["loop"] for e in _entries(logs, "lease_acquired")] == ["reconcile", "prices", "reconcile", "prices"]
    assert [e for e in logs if e["log_level"] == "error"] == []
