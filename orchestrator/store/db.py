"""Engine and sessions for SQLite (embedded default) and PostgreSQL (production, replicas).

SQLite runs in WAL mode with `BEGIN IMMEDIATE` transactions: writers queue on the lock instead
of failing with "database is locked" when a read transaction tries to upgrade.

Pool sizes (API and queue benchmark). SQLite: one pooled connection. Every transaction takes the write lock anyway
(`BEGIN IMMEDIATE`), so a second connection never ran concurrently; it only moved the queueing into SQLite's busy
handler, which sleeps with back-off (up to 100 ms a try) and let late threads starve: p99 641 ms at 8 clients.
Threads now queue on the pool's condition variable, first come first served, and are woken the moment the
connection is returned. Other processes (the CLI's direct reads, tests) still wait on `busy_timeout`.
PostgreSQL: at most `PG_POOL_SIZE + PG_MAX_OVERFLOW` = 25 connections a replica, which covers the API threadpool
(`API_THREADS` = 16, orchestrator/daemon.py) plus the loop threads, so a request never waits for a connection;
three replicas (75, plus one lease connection each) stay under PostgreSQL's default `max_connections` of 100.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 15
PG_CONNECT_TIMEOUT_SECONDS = 10
_MIGRATION_LOCK_ID = 7_311_001  # advisory lock key: replicas migrate one at a time


SUPPORTED_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")
SUPPORTED_HINT = "use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"


class DatabaseError(RuntimeError):
    """The database URL is not one we support, or the database cannot be reached at start-up; the message is
    the one line an operator needs (not SQLAlchemy's ModuleNotFoundError or OperationalError with a link)."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def check_url(url: str) -> None:
    """Only the drivers installed and tested: `mysql://` failed with "No module named 'MySQLdb'" and a bare
    `postgresql://` with "No module named 'psycopg2'"."""
    try:
        driver = make_url(url).drivername
    except ArgumentError:
        raise DatabaseError(f"database URL {_redacted(url)!r} is not a URL; {SUPPORTED_HINT}") from None
    if driver not in SUPPORTED_DRIVERS:
        raise DatabaseError(f"unsupported database URL {_redacted(url)!r} (driver {driver!r}); {SUPPORTED_HINT}")


def _redacted(url: str) -> str:
    """The URL without its password: the message goes to a terminal and to logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@", 1)[-1] if "@" in url else url


def make_engine(url: str) -> Engine:
    check_url(url)
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        pool: dict[str, Any] = {}  # in-memory databases keep SQLAlchemy's single-connection pool
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30}  # the pool is the writer queue
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # A host that drops packets (or a server that accepts and never answers) otherwise holds start-up, and every
    # loop's reconnect, for the OS TCP timeout (minutes) with nothing logged; a URL's own ?connect_timeout= wins.
    connect = {} if "connect_timeout" in make_url(url).query else {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS}
    try:
        return create_engine(url, pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW, pool_pre_ping=True,
                             connect_args=connect)
    except ModuleNotFoundError as exc:  # psycopg is the `postgres` extra: a runtime-only install has no driver
        raise DatabaseError(f"database URL {_redacted(url)!r} needs PostgreSQL's driver {exc.name or 'psycopg'}, "
                            "which is not installed: pip install 'spotwise[postgres]'") from None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def migrate(engine: Engine) -> None:
    """Bring the schema to head. Safe to run twice and from several replicas at once."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _connect(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_ID})
                conn.commit()


def _connect(engine: Engine) -> Any:
    """The first connection of a start-up; failing, a one-line DatabaseError naming where and why."""
    try:
        return engine.connect()
    except OperationalError as exc:
        url = engine.url
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        if url.get_backend_name() == "postgresql":
            reason = reason.rsplit(" failed: ", 1)[-1]  # psycopg repeats host and port before the reason
            where = f"{url.host or 'localhost'}:{url.port or 5432}"
            raise DatabaseError(f"cannot reach PostgreSQL at {where}: {reason}") from None
        raise DatabaseError(f"cannot open SQLite database {url.database}: {reason}") from None
