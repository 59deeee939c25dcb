"""Leases for the loops that must run on one replica at a time (reconcile, prices, ledger, budgets, idle, alerts).

Why PostgreSQL advisory locks on a dedicated connection, not a lease row with an expiry:
- Handover after a crash is as fast as the database notices the holder is gone. A holder killed
  with SIGKILL has its socket closed by the kernel, the server ends its session at once and the
  lock is free for the next replica's next tick (bounded by that loop's interval). A holder whose
  whole host vanished is detected by TCP keepalives, which we set on both ends of the connection
  (client: libpq `keepalives_*` and `tcp_user_timeout`; server: the per-session `tcp_keepalives_*`
  and `tcp_user_timeout` settings), so the lock is released within about `KEEPALIVE_BOUND_S`.
- No clocks are compared: a lease row needs the holder to renew before an expiry and every
  replica to agree on time; a paused (GC, SIGSTOP) holder past its expiry would keep acting.
- Leadership is re-checked before every pass by a round trip on the lock connection. If the
  connection broke (database restart, network), this replica stops acting as leader at once and
  reconnects; it takes the lock again only if nobody else did.
Even if two passes did overlap (a partitioned holder finishing its pass), every pass is idempotent:
claims are `FOR UPDATE SKIP LOCKED`, transitions are conditional updates and every cloud call is
keyed by the attempt's idempotency key, so overlap costs work, never a second instance.

SQLite allows one daemon (see `SqliteGuard`), so its leases are always held.

While PostgreSQL is down every loop's tick fails to take its lease (six loops, reconcile twice a second in
some set-ups), so the loss is logged as one `lease_connection_lost` warning per outage (then at most one per
`dberrors.WARN_EVERY_SECONDS`) and one `lease_connection_restored` line when a lease query succeeds again,
through the same throttle as the loops' own failures (`dberrors.LoopFailures`). Any other failure on the
lock connection is not an outage: `lease_failed`, at error level with its traceback, every time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from orchestrator.dberrors import LoopFailures
from orchestrator.logs import get_logger

log = get_logger(__name__)

LOOPS = ("reconcile", "prices", "ledger", "budgets", "idle", "alerts")
KEEPALIVE_BOUND_S = 5 + 2 * 3  # idle + interval x count: a vanished host's locks are freed after this
_SESSION_SETTINGS = {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3",
                     "tcp_user_timeout": "11000", "idle_session_timeout": "0",
                     "idle_in_transaction_session_timeout": "0", "statement_timeout": "5000"}
CLIENT_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
                     "tcp_user_timeout": 11000}


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key per loop name (namespaced so other users of locks do not clash)."""
    digest = hashlib.sha256(f"spotwise.loop.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass
class LoopStats:
    """What /metrics reports per loop: leadership and the last pass's duration."""

    leader: bool = False
    passes: int = 0
    last_duration_s: float = 0.0
    total_duration_s: float = 0.0
    failures: int = 0


class Leases:
    """One replica's leases, all held on one dedicated connection (not from the pool)."""

    def __init__(self, engine: Engine, *, replica: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.replica = replica or f"{os.uname().nodename}:{os.getpid()}"
        self.postgres = engine.dialect.name == "postgresql"
        self.stats: dict[str, LoopStats] = {name: LoopStats() for name in LOOPS}
        self._held: set[str] = set()
        self._conn: Connection | None = None
        self._mutex = threading.Lock()  # loops run in several scheduler threads; one connection
        self._lock_engine: Engine | None = None
        # one per replica, not per loop: every loop's lease lives on the one lock connection, so an outage is
        # one event; only touched under `_mutex`
        self._failures = LoopFailures("lease", clock=clock, unavailable_event="lease_connection_lost",
                                      recovered_event="lease_connection_restored")

    # -- leadership ------------------------------------------------------------------------------

    def acquire(self, name: str) -> bool:
        """True when this replica holds `name`'s lease now (taking it if it is free)."""
        if not self.postgres:
            self._set_leader(name, True)
            return True
        with self._mutex:
            try:
                conn = self._connection()
                if name in self._held:
                    conn.execute(text("SELECT 1")).scalar()  # the lock lives as long as this session
                    self._failures.succeeded()
                    return True
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(name)}).scalar())
                conn.commit()
            except Exception as exc:  # the session (and with it every lock) is gone: stop leading
                self._failures.failed(exc, held=sorted(self._held))  # throttled while the database is down
                self._drop_connection()
                return False
            self._failures.succeeded()
            if got:
                self._held.add(name)
                self._set_leader(name, True)
                log.info("lease_acquired", loop=name, replica=self.replica)
            return got

    def release_all(self) -> None:
        """Give every lease back (clean shutdown): the next replica takes over on its next tick."""
        with self._mutex:
            self._drop_connection()

    def is_leader(self, name: str) -> bool:
        return self.stats[name].leader

    def _set_leader(self, name: str, leader: bool) -> None:
        self.stats.setdefault(name, LoopStats()).leader = leader

    def _connection(self) -> Connection:
        if self._conn is None:
            if self._lock_engine is None:
                self._lock_engine = _lock_engine(self.engine)
            conn = self._lock_engine.connect()
            for key, value in _SESSION_SETTINGS.items():
                try:
                    conn.execute(text(f"SET {key} = '{value}'"))
                    conn.commit()
                except Exception:  # an older server without the setting: keepalive defaults apply
                    conn.rollback()
            conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": f"spotwise {self.replica}"})
            conn.commit()
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        for name in list(self._held):
            self._set_leader(name, False)
        self._held.clear()
        if self._conn is not None:
            with contextlib.suppress(Exception):  # an already broken session has freed its locks anyway
                self._conn.close()  # closing the session frees its advisory locks
            self._conn = None
        if self._lock_engine is not None:
            self._lock_engine.dispose()
            self._lock_engine = None

    # -- running a loop under its lease ---------------------------------------------------------

    def guarded(self, name: str, fn: Callable[[], Any], on_error: Callable[[Exception], None]) -> Callable[[], None]:
        """The scheduler job for loop `name`: run `fn` only while holding the lease; time each pass."""
        self.stats.setdefault(name, LoopStats())

        def run() -> None:
            if not self.acquire(name):
                return
            stats = self.stats[name]
            started = time.monotonic()
            try:
                fn()
            except Exception as exc:  # the next pass retries; every pass is idempotent
                stats.failures += 1
                on_error(exc)
            finally:
                stats.last_duration_s = time.monotonic() - started
                stats.total_duration_s += stats.last_duration_s
                stats.passes += 1

        return run


def _lock_engine(engine: Engine) -> Engine:
    """An engine for the lock session alone: no pool (one connection), keepalives on."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(engine.url, poolclass=NullPool, connect_args=CLIENT_KEEPALIVES)


@dataclass
class SqliteGuard:
    """Refuses a second daemon on one SQLite database: an exclusive lock on `<db>.lock`, held while serving.

    SQLite has a single writer and no advisory locks across processes, so two daemons on one file
    would both run every loop. The kernel drops the lock when the holder exits, even on SIGKILL.
    """

    db_path: Path
    _handle: Any = field(default=None, repr=False)

    @property
    def lock_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + ".lock")

    def acquire(self) -> None:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+")  # noqa: SIM115 - held for the life of the daemon
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise SystemExit(
                f"another spotwise daemon ({holder}) is already serving the SQLite database {self.db_path}; "
                "SQLite supports one replica only. Stop it first, or use PostgreSQL "
                "(SPOTWISE_DATABASE_URL=postgresql+psycopg://...) to run several replicas.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for PostgreSQL and in-memory databases."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None
