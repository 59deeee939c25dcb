"""Loop passes that fail because the database is down log one throttled warning, not a traceback per tick;
any other failure keeps its traceback at error level (orchestrator/dberrors.py).

Real databases only: PostgreSQL on a closed port of 127.0.0.1 (nothing listens), the shared PostgreSQL for a
terminated backend and a statement timeout, a throwaway PostgreSQL cluster stopped and started under the
daemon's reconcile loop, and real SQLite files for "database is locked" and a missing table. Logs are
captured with structlog's own testing tool.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from structlog.testing import capture_logs

from orchestrator.cli.demo import free_port
from orchestrator.config import Settings
from orchestrator.daemon import Loops
from orchestrator.dberrors import LoopFailures, is_db_unavailable
from orchestrator.runtime import build_runtime
from orchestrator.spending import ledger
from orchestrator.spending.loops import _guard
from orchestrator.store.db import make_engine, make_session_factory, migrate
from tests.chaos.pgcluster import ThrowawayPostgres


def _closed_port_url() -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"  # nothing listens there


def _raised(fn: Callable[[], object]) -> Exception:
    try:
        fn()
    except Exception as exc:
        return exc
    raise AssertionError("expected an exception")


def _entries(logs: Sequence[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == event]


def test_unreachable_postgres_is_one_warning_without_a_traceback() -> None:
    """The real ledger loop against a PostgreSQL nobody listens on: three failed passes inside the throttle
    window are one warning with the driver's one-line message, and nothing at error level."""
    engine = make_engine(_closed_port_url())
    job = _guard("ledger", lambda: ledger.accrue(make_session_factory(engine)))
    try:
        with capture_logs() as logs:
            for _ in range(3):
                job()
    finally:
        engine.dispose()
    [warning] = _entries(logs, "ledger_db_unavailable")
    assert warning["log_level"] == "warning" and "exc_info" not in warning
    assert "Connection refused" in warning["error"] and "\n" not in warning["error"]
    assert warning["error"].startswith("OperationalError: connection failed")
    assert [e for e in logs if e["log_level"] == "error"] == []
    assert not any("Traceback" in str(v) for e in logs for v in e.values())


def test_an_unexpected_failure_keeps_its_traceback_at_error_level(tmp_path: Path) -> None:
    """A real bug-like failure (the ledger on a database without its tables) is logged every pass, with the
    exception attached so the renderer prints the traceback."""
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated: "no such table"
    job = _guard("ledger", lambda: ledger.accrue(make_session_factory(engine)))
    try:
        with capture_logs() as logs:
            job()
            job()
    finally:
        engine.dispose()
    failed = _entries(logs, "ledger_failed")
    assert len(failed) == 2 and all(e["log_level"] == "error" for e in failed)
    assert isinstance(failed[0]["exc_info"], Exception) and "no such table" in failed[0]["error"]
    assert _entries(logs, "ledger_db_unavailable") == []


def test_warning_repeats_once_per_interval_and_recovery_is_logged(postgres_url: str) -> None:
    """Failures against the closed port, on a clock the test moves: a warning at 0 s, none at 30 s, one at
    61 s counting the pass it held back; then the same loop on the real PostgreSQL logs `_db_recovered`."""
    now = [0.0]
    down = make_engine(_closed_port_url())
    up = make_engine(postgres_url)
    migrate(up)
    sessions = make_session_factory(down)
    job = LoopFailures("ledger", every_s=60.0, clock=lambda: now[0]).run(lambda: ledger.accrue(sessions))
    try:
        with capture_logs() as logs:
            for moment in (0.0, 30.0, 61.0):
                now[0] = moment
                job()
            sessions.configure(bind=up)  # the database is reachable again
            now[0] = 70.0
            job()
            job()
    finally:
        down.dispose()
        up.dispose()
    warnings = _entries(logs, "ledger_db_unavailable")
    assert [(w["down_for_s"], w["failed_passes_since_last_warning"]) for w in warnings] == [(0.0, 0), (61.0, 1)]
    [recovered] = _entries(logs, "ledger_db_recovered")
    assert recovered["log_level"] == "info" and recovered["down_for_s"] == 70.0 and recovered["failed_passes"] == 3
    assert [e for e in logs if e["log_level"] == "error"] == []


def test_which_real_errors_count_as_the_database_being_unavailable(postgres_url: str, tmp_path: Path) -> None:
    unreachable = make_engine(_closed_port_url())
    refused = _raised(lambda: unreachable.connect())
    unreachable.dispose()
    assert is_db_unavailable(refused)
    assert is_db_unavailable(_wrapped(refused))  # raised from it: still the outage
    assert not is_db_unavailable(ValueError("a bug"))

    engine = create_engine(postgres_url)
    try:
        with engine.connect() as victim, engine.connect() as admin:  # the server ends our session
            pid = victim.execute(text("SELECT pg_backend_pid()")).scalar()
            admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            terminated = _raised(lambda: victim.execute(text("SELECT 1")))
        assert is_db_unavailable(terminated)
        with engine.connect() as conn:  # the server answering "too slow" is not an outage
            conn.execute(text("SET statement_timeout = 20"))
            timed_out = _raised(lambda: conn.execute(text("SELECT pg_sleep(1)")))
        assert "QueryCanceled" in repr(timed_out) and not is_db_unavailable(timed_out)
    finally:
        engine.dispose()

    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    other = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        locked = _raised(lambda: other.connect().execute(text("SELECT * FROM t")))
    finally:
        other.dispose()
        holder.close()
    assert "database is locked" in str(locked) and not is_db_unavailable(locked)


def _wrapped(cause: Exception) -> Exception:
    try:
        raise RuntimeError("ledger pass failed") from cause
    except RuntimeError as exc:
        return exc


def test_the_daemon_reconcile_loop_rides_out_a_postgres_stop(throwaway_pg: ThrowawayPostgres,
                                                            tmp_path: Path) -> None:
    """The daemon's own reconcile job on a real PostgreSQL that is stopped under it (pooled connections die
    with the server) and started again: one warning while down, `reconcile_db_recovered` after."""
    rt = build_runtime(Settings(home=tmp_path, database_url=throwaway_pg.url, providers={}), with_providers=False)
    loops = Loops(rt)
    try:
        with capture_logs() as logs:
            loops._reconcile()
            throwaway_pg.stop("fast")
            try:
                for _ in range(3):
                    loops._reconcile()
            finally:
                throwaway_pg.start()

            def back() -> bool:
                loops._reconcile()
                return _entries(logs, "reconcile_db_recovered") != []

            _until(back)
    finally:
        loops.leases.release_all()
        rt.close()
    [warning] = _entries(logs, "reconcile_db_unavailable")
    assert "exc_info" not in warning and warning["log_level"] == "warning"
    assert [e for e in logs if e["log_level"] == "error"] == []
    [recovered] = _entries(logs, "reconcile_db_recovered")
    assert recovered["failed_passes"] >= 3


def _until(done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the loop never recovered"
        time.sleep(0.2)

