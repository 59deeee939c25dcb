"""Loop leases on the real PostgreSQL, and the SQLite one-replica guard, through the real code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from orchestrator.cli.demo import free_port, start_daemon, stop_daemon, wait_healthy
from orchestrator.leases import Leases, SqliteGuard

HOLDER = """
import sys, time
from sqlalchemy import create_engine
from orchestrator.leases import Leases
leases = Leases(create_engine(sys.argv[1]), replica="holder")
assert leases.acquire("reconcile")
print("held", flush=True)
time.sleep(600)
"""


def test_one_holder_at_a_time_and_release_hands_over(postgres_url: str) -> None:
    a, b = Leases(create_engine(postgres_url), replica="a"), Leases(create_engine(postgres_url), replica="b")
    try:
        assert a.acquire("reconcile")
        assert a.acquire("reconcile")  # re-checking a held lease keeps it
        assert not b.acquire("reconcile")
        assert b.acquire("alerts")  # loops are leased independently
        assert not a.acquire("alerts")
        assert a.is_leader("reconcile") and not b.is_leader("reconcile")
        a.release_all()
        assert not a.is_leader("reconcile")
        assert b.acquire("reconcile")
    finally:
        a.release_all()
        b.release_all()


def test_a_killed_holder_hands_over_within_a_second(postgres_url: str) -> None:
    """SIGKILL closes the holder's socket; the server frees its advisory locks at once."""
    other = Leases(create_engine(postgres_url), replica="other")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, postgres_url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        while proc.stdout.readline().strip() != "held":  # log lines come first
            assert proc.poll() is None, "the holder died before taking the lease"
        assert not other.acquire("reconcile")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = time.monotonic()
        while not other.acquire("reconcile"):
            assert time.monotonic() - killed < 5, "lease not handed over within 5 s of SIGKILL"
            time.sleep(0.05)
        handover = time.monotonic() - killed
        print(f"handover after SIGKILL: {handover * 1000:.0f} ms")
        assert handover < 1.0
    finally:
        if proc.poll() is None:
            proc.kill()
        other.release_all()


def test_a_lost_lock_connection_drops_leadership(postgres_url: str) -> None:
    """If the lock session dies (database restart, network), the replica stops leading at once."""
    a = Leases(create_engine(postgres_url), replica="a")
    killer = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        assert a.acquire("ledger")
        from sqlalchemy import text
        with killer.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = 'spotwise a'"))
        assert not a.acquire("ledger")  # noticed on the next check
        assert not a.is_leader("ledger")
        assert a.acquire("ledger")  # reconnects and takes it again, nobody else holds it
    finally:
        a.release_all()
        killer.dispose()


def test_sqlite_leases_are_always_held(tmp_path: Path) -> None:
    leases = Leases(create_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    assert leases.acquire("reconcile") and leases.is_leader("reconcile")


def test_sqlite_guard_refuses_a_second_holder(tmp_path: Path) -> None:
    first = SqliteGuard(tmp_path / "spotwise.db")
    first.acquire()
    try:
        with pytest.raises(SystemExit, match="SQLite supports one replica only"):
            SqliteGuard(tmp_path / "spotwise.db").acquire()
    finally:
        first.release()
    again = SqliteGuard(tmp_path / "spotwise.db")
    again.acquire()  # free once the holder let go
    again.release()


def test_second_sqlite_daemon_exits_with_a_clear_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    first = start_daemon(home, port)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", first)
        second = start_daemon(home, free_port())
        assert second.wait(timeout=60) != 0
        log = (home / "daemon.log").read_text()
        assert "SQLite supports one replica only" in log and f"pid {first.pid}" in log
        assert first.poll() is None  # the serving daemon is untouched
    finally:
        stop_daemon(first)

