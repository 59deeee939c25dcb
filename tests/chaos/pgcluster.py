"""A throwaway PostgreSQL cluster for one chaos run, so the run may restart it at will.

Why its own cluster: the shared PostgreSQL on 5432 serves every other test and engineer on the machine and
must never be restarted. This one lives in a temporary directory on a free port with trust authentication
and `fsync=off` (nothing here must survive a power cut, only a server restart, which keeps the page cache),
and is removed at the end. `initdb` refuses to run as root, so as root the server runs as the `postgres`
user (the owner of the Debian packages' cluster) through `runuser`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from orchestrator.cli.demo import free_port

MODES = ("fast", "immediate")  # pg_ctl's shutdown modes a restart fault uses: clean, and crash-like


def unavailable_reason() -> str | None:
    """Why a throwaway cluster cannot be made here, or None when it can."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not on PATH (install the PostgreSQL server binaries)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root without `runuser` to start PostgreSQL as the postgres user"
    return None


class ThrowawayPostgres:
    """`start()`, `url`, `stop(mode)`, `restart(mode)`, `destroy()`; also a context manager."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="spotwise-chaos-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *args] if self._as_root else list(args)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if result.returncode != 0:
            tail = self.log.read_text()[-1500:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip()}\n{tail}")

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args)

    def start(self) -> ThrowawayPostgres:
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
                      "-E", "UTF8", "--locale=C")
            # fsync off only: a commit's WAL is still written to the kernel before it is acknowledged, so a
            # server crash (`-m immediate`) loses nothing; `synchronous_commit = off` would lose the last
            # acknowledged commits on exactly that restart (a first run with it lost one acknowledged submission)
            options = {"port": str(self.port), "listen_addresses": "'127.0.0.1'", "fsync": "off",
                       "unix_socket_directories": "''", "max_connections": "100", "shared_buffers": "32MB"}
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.writelines(f"{k} = {v}\n" for k, v in options.items())
        self._pg_ctl("start")
        return self

    def stop(self, mode: str) -> None:
        """Stop with `mode`: fast (sessions terminated, checkpoint) or immediate (like a crash: WAL replay on
        the next start)."""
        if mode not in MODES:
            raise ValueError(f"unknown shutdown mode {mode!r}; valid: {', '.join(MODES)}")
        self._pg_ctl("stop", "-m", mode)

    def restart(self, mode: str) -> None:
        """`pg_ctl restart -m mode`; returns once the server accepts connections again."""
        if mode not in MODES:
            raise ValueError(f"unknown shutdown mode {mode!r}; valid: {', '.join(MODES)}")
        self._pg_ctl("restart", "-m", mode)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):  # already gone: the directory goes
                self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.destroy()
