"""How a loop pass that failed is logged: a database outage is one warning line, anything else a traceback.

Why: while PostgreSQL restarts or is unreachable every loop fails every tick (reconcile twice a second in
some set-ups), and a full traceback per loop per tick buries the one line an operator needs ("the database is
down") and any real bug logged meanwhile. An outage is expected and recovers by itself (the pool's pre-ping
reconnects); a bug is not, so it keeps its traceback at error level.

What counts as "the database is unavailable" (`is_db_unavailable`), deliberately narrow:
- SQLAlchemy says the connection was invalidated (its dialect recognised a disconnect), or a
  `DisconnectionError` (pool pre-ping gave up);
- psycopg's `OperationalError` without an SQLSTATE (the client could not connect, or the server closed the
  connection) or with one of connection class 08, admin/crash shutdown or "cannot connect now" (57P01-57P03),
  or too many connections (53300).
Not counted: psycopg's other `OperationalError` subclasses (a statement timeout 57014, a deadlock, a
serialization failure, a lock timeout are the server answering), and SQLite's "database is locked" (a busy
writer, not an outage; the pass is retried and the traceback says who held the lock).

psycopg is an optional dependency (the `postgres` extra): it is looked up in `sys.modules`, never imported here.
If it was never imported, no psycopg error can exist, so a SQLite-only install never needs it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, DisconnectionError

from orchestrator.logs import get_logger

log = get_logger(__name__)

#: At most one `{loop}_db_unavailable` warning per loop in this many seconds while the outage lasts.
WARN_EVERY_SECONDS = 60.0
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}


def _psycopg_operational(exc: BaseException | None) -> bool:
    """`exc` is a psycopg `OperationalError` (False when psycopg was never imported: then it cannot be one)."""
    psycopg = sys.modules.get("psycopg")
    error = getattr(psycopg, "OperationalError", None)
    return isinstance(error, type) and isinstance(exc, error)


def _psycopg_unavailable(exc: BaseException | None) -> bool:
    state: str | None = getattr(exc, "sqlstate", None)
    return state is None or state.startswith("08") or state in _UNAVAILABLE_SQLSTATES


def is_db_unavailable(exc: BaseException) -> bool:
    """True when `exc` (or what it was raised from) says the database cannot be reached right now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DisconnectionError):
            return True
        if isinstance(current, DBAPIError):
            if current.connection_invalidated:
                return True
            if _psycopg_operational(current.orig):
                return _psycopg_unavailable(current.orig)
            return False  # another driver's error (SQLite's "database is locked" among them)
        if _psycopg_operational(current):
            return _psycopg_unavailable(current)
        current = current.__cause__
    return False


def short_message(exc: BaseException) -> str:
    """The driver's first line (`connection failed: ... Connection refused`), without SQLAlchemy's SQL and
    background link: the warning is meant to be one line."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(inner).strip().splitlines()
    first = lines[0].strip() if lines else ""
    return f"{type(inner).__name__}: {first}"[:300]


class LoopFailures:
    """One loop's failure log: `failed(exc)` after a failed pass, `succeeded()` after a good one.

    A database outage logs `{name}_db_unavailable` (warning, no traceback) on its first failed pass and then at
    most once every `every_s` seconds, with how many passes failed in between; the first good pass after it
    logs `{name}_db_recovered` (info). Any other exception logs `{name}_failed` with its traceback, every time.
    One instance per loop; the scheduler never overlaps a loop with itself, so passes never race on it.
    `unavailable_event` / `recovered_event` rename the two outage lines for a caller whose event name predates
    this helper (the leases' `lease_connection_lost`), so operators' log searches keep working.
    """

    def __init__(self, name: str, *, every_s: float = WARN_EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic, unavailable_event: str | None = None,
                 recovered_event: str | None = None) -> None:
        self.name = name
        self.every_s = every_s
        self.clock = clock
        self.unavailable_event = unavailable_event or f"{name}_db_unavailable"
        self.recovered_event = recovered_event or f"{name}_db_recovered"
        self._down_since: float | None = None
        self._warned_at = 0.0
        self._failed_passes = 0  # passes failed by the outage so far
        self._unreported = 0  # ... of which not yet counted in a warning

    def failed(self, exc: BaseException, **fields: object) -> None:
        """Log a failed pass; `fields` (what the caller lost, say) go on whichever line is written."""
        if not is_db_unavailable(exc):
            log.error(f"{self.name}_failed", error=repr(exc), exc_info=exc, **fields)
            return
        now = self.clock()
        self._failed_passes += 1
        first = self._down_since is None
        since = now if self._down_since is None else self._down_since
        self._down_since = since
        if first or now - self._warned_at >= self.every_s:
            log.warning(self.unavailable_event, error=short_message(exc), down_for_s=round(now - since, 1),
                        failed_passes_since_last_warning=self._unreported, **fields)
            self._warned_at = now
            self._unreported = 0
        else:
            self._unreported += 1

    def succeeded(self) -> None:
        if self._down_since is None:
            return
        log.info(self.recovered_event, down_for_s=round(self.clock() - self._down_since, 1),
                 failed_passes=self._failed_passes)
        self._down_since = None
        self._failed_passes = self._unreported = 0

    def run(self, fn: Callable[[], object]) -> Callable[[], None]:
        """`fn` as a scheduler job: every exception is logged here; the next pass retries (passes are
        idempotent)."""
        def guarded() -> None:
            try:
                fn()
            except Exception as exc:
                self.failed(exc)
            else:
                self.succeeded()
        return guarded
