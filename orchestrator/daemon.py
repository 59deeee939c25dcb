"""`spotwise serve`: the API (uvicorn) plus the periodic loops (APScheduler), one process.

Loops run in APScheduler's thread pool with `max_instances=1` and `coalesce=True`: a slow pass
is never overlapped by the next. SIGTERM lets the current pass finish, then exits; instances keep
running (a daemon restart must not cost anyone their job).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import signal
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, text

from orchestrator.alerts.checks import alert_config_problems
from orchestrator.api import create_app
from orchestrator.api.inflight import API_THREADS
from orchestrator.catalog.pricing import add_price_loop
from orchestrator.config import Settings
from orchestrator.dberrors import LoopFailures
from orchestrator.homeperms import private_umask
from orchestrator.leases import Leases, SqliteGuard, sqlite_path
from orchestrator.logs import configure_logging, get_logger
from orchestrator.provisioning.preflight import preflight_at_start
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.publicurl import public_url_problem
from orchestrator.runtime import Runtime, StartupError, build_runtime
from orchestrator.spending.loops import add_spending_loops
from orchestrator.store.db import transaction
from orchestrator.store.tables import ApiToken
from orchestrator.tokens import create_api_token, hash_token

log = get_logger(__name__)

class _Server(uvicorn.Server):
    """uvicorn's server with the request threadpool sized to API_THREADS (it can only be set inside the loop).

    Why 16 and not AnyIO's 40: below the PostgreSQL pool (orchestrator/store/db.py: 25 a replica, with room for
    the loop threads), so a request thread never waits for a connection, and few enough that a 2-core machine does
    not spend its time handing the GIL around. The API admits as many requests at once (api/inflight.py).
    """

    stop_signals: list[int]

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = API_THREADS
        await super().serve(sockets=sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn re-raises the SIGTERM (or SIGINT) it shut down on once serving ends: the default handler then
        killed the process before `serve`'s clean-up (loops stopped, leases and the SQLite lock released,
        `daemon_stopped` logged), and SIGINT ended in a KeyboardInterrupt traceback. The signal has been
        handled by the graceful shutdown; remember it for the log and do not raise it again."""
        self.stop_signals = []
        with super().capture_signals():
            yield
            captured = getattr(self, "_captured_signals", [])
            self.stop_signals = list(captured)
            captured.clear()


_ADMIN_BOOTSTRAP_LOCK_ID = 7_311_002  # advisory lock key: replicas starting together bootstrap one at a time


def ensure_admin_token(rt: Runtime) -> Path | None:
    """Make sure an admin can get in: the configured token, or a generated one in a 0600 file.

    Replicas that start together all run this; on PostgreSQL a transaction-scoped advisory lock makes them take
    turns, else two would both see no row and the second insert of the same token hash would kill its daemon."""
    settings = rt.settings
    with transaction(rt.sessions) as s:
        if rt.engine.dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADMIN_BOOTSTRAP_LOCK_ID})
        if settings.admin_token:
            if s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(settings.admin_token))) is None:
                create_api_token(s, role="admin", team=None, name="configured admin", token=settings.admin_token)
            return None
        path = settings.admin_token_file
        if path.exists():
            known = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(path.read_text().strip())))
            if known is not None:
                return path
        if s.scalar(select(ApiToken).where(ApiToken.role == "admin")) is not None and not path.exists():
            return None  # admins exist (e.g. another replica made one); do not mint more
        _, plaintext = create_api_token(s, role="admin", team=None, name="generated admin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(plaintext + "\n")
    return path


class Loops:
    def __init__(self, rt: Runtime) -> None:
        self.reconciler = Reconciler(rt)
        self.reconcile_failures = LoopFailures("reconcile")
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler.add_job(self._reconcile, "interval", seconds=rt.settings.reconcile_interval_seconds,
                               id="reconcile", max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
        add_spending_loops(self.scheduler, rt)  # spending: ledger, budgets, idle, alert dispatch
        add_price_loop(self.scheduler, rt)  # live offers per provider, on their interval
        self.leases = rt.leases if rt.leases is not None else Leases(rt.engine)
        rt.leases = self.leases
        # Replicas: every loop runs only on the replica holding its lease (PostgreSQL advisory lock).
        for job in self.scheduler.get_jobs():
            self.scheduler.modify_job(job.id, func=self.leases.guarded(job.id, job.func, _log_failure(job.id)))

    def _reconcile(self) -> None:
        try:
            report = self.reconciler.run_once()
        except Exception as exc:  # a failed pass is logged (an outage: one throttled warning) and retried
            self.reconcile_failures.failed(exc)
            return
        self.reconcile_failures.succeeded()
        if report.launched or report.ended or report.orphans_terminated:
            log.info("reconcile_pass", launched=report.launched, ended=report.ended,
                     orphans_terminated=report.orphans_terminated)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)
        self.leases.release_all()


def _log_failure(name: str) -> Callable[[Exception], None]:
    """Errors that escape a loop's own handling are logged like the loops log theirs (orchestrator/dberrors.py);
    the next pass retries. Every loop handles its own today, so this is the backstop for a future one."""
    return LoopFailures(name).failed


def bind_api_socket(host: str, port: int) -> socket.socket:
    """The API's socket, bound before anything else starts, listening only once the API is about to serve.

    Why: uvicorn bound it last, after migrations and the loops had started, and a port in use or a host that
    does not resolve ended in its own 'ERROR: [Errno 98] ...' and exit code 3. Bound here, the same mistakes
    are one line before any work. Not listening yet keeps connections refused (not queued unanswered) while this
    replica migrates, so clients and proxies move on. (With SO_REUSEADDR, which restarts need, a second process
    may still bind the port before this one listens; `start_listening` reports that the same way.)"""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror} (SPOTWISE_HOST / --host)") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts reuse the port
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise _cannot_listen(host, port, exc) from None
    return sock


def start_listening(sock: socket.socket, host: str, port: int) -> None:
    try:
        sock.listen(2048)  # uvicorn's default backlog
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None


def _cannot_listen(host: str, port: int, exc: OSError) -> StartupError:
    hint = ("; another process (another spotwise serve?) listens there: stop it or pick another port "
            "(SPOTWISE_PORT / --port)") if exc.errno == errno.EADDRINUSE else ""
    return StartupError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}")


def serve(settings: Settings) -> None:
    private_umask()  # the database, its WAL, keys and stores: private to the daemon's user
    configure_logging(settings.log_format, settings.log_level)
    problems = alert_config_problems(settings.alert_sinks, settings.alert_routes)
    if problems:  # before the database and the loops: nothing has started that would need stopping
        raise StartupError("alert settings cannot work: " + "; ".join(problems))
    unreachable = public_url_problem(settings.effective_public_url, settings.providers,
                                     allow_insecure=settings.allow_insecure_public_url,
                                     allow_loopback=settings.allow_loopback_public_url)
    if unreachable:  # agents could never report (or would send their token in the clear): before any work
        raise StartupError(unreachable)
    sock = bind_api_socket(settings.host, settings.port)
    db_file = sqlite_path(settings.effective_database_url)
    guard = SqliteGuard(db_file) if db_file is not None else None
    try:
        if guard is not None:
            guard.acquire()  # SQLite: one replica only; a second `serve` exits here with a clear message
        rt = build_runtime(settings)
    except BaseException:
        sock.close()
        if guard is not None:
            guard.release()
        raise
    token_file = ensure_admin_token(rt)
    log.info("daemon_starting", url=settings.effective_public_url, cluster=rt.cluster_id,
             database=settings.effective_database_url.split("://", 1)[0], providers=sorted(rt.providers),
             admin_token_file=str(token_file) if token_file else None)
    loops = Loops(rt)
    loops.start()
    preflight = preflight_at_start(rt)  # config checks now; the cloud checks in the background, logged
    # loop/http "auto": uvloop and httptools when installed (pyproject dependencies), asyncio and h11 otherwise.
    config = uvicorn.Config(create_app(rt), host=settings.host, port=settings.port, log_level="warning",
                            access_log=False, lifespan="off", loop="auto", http="auto")
    # The ~170,000 objects made at start-up (modules, SQLAlchemy metadata, FastAPI routes) never die;
    # left in the collector's oldest generation, each full collection walked them all: a 300 ms pause under the
    # submit benchmark. Frozen, collections look only at what requests and loops allocate.
    gc.collect()
    gc.freeze()
    server = _Server(config)
    try:
        start_listening(sock, settings.host, settings.port)
        server.run(sockets=[sock])
    finally:
        sock.close()
        loops.stop()
        if preflight is not None:  # a preflight still asking a cloud is given a moment, never a hold on the stop
            preflight.join(timeout=2.0)
        rt.close()
        if guard is not None:
            guard.release()
        stopped_by = [signal.Signals(s).name for s in getattr(server, "stop_signals", [])]
        log.info("daemon_stopped", signal=stopped_by[0] if stopped_by else None)
