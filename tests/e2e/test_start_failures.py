"""When the daemon cannot start, the user sees why: the demo shows the end of the daemon's log and keeps its home;
`spotwise serve` says the reason in one line on stderr, never a traceback. Real subprocesses throughout."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.cli import watch
from orchestrator.cli.client import CliError
from orchestrator.cli.console import make_console
from orchestrator.cli.demo import free_port
from orchestrator.client import Client
from tests.e2e.conftest import Daemon

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTWISE_")}
    env.update({"TMPDIR": str(tmp_path), "COLUMNS": "400", "SPOTWISE_HOME": str(tmp_path / "home"), **extra})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def test_the_demo_shows_why_its_daemon_did_not_start_and_keeps_its_home(tmp_path: Path) -> None:
    """A setting the daemon refuses (here a log level it does not know, from the user's environment) used to end
    the demo with only 'the daemon exited with code 1 while starting', its log deleted with the home."""
    result = subprocess.run([sys.executable, "-m", "orchestrator", "demo"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, env=_env(tmp_path, SPOTWISE_LOG_LEVEL="verbose"))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "the daemon exited with code 1 while starting" in result.stderr
    assert "log_level must be one of: debug, info, warning, error, critical, not 'verbose'" in result.stderr
    homes = list(tmp_path.glob("spotwise-demo-*"))
    assert len(homes) == 1, out
    log = homes[0] / "daemon.log"
    assert f"the daemon's log ({log}), last" in result.stderr and log.is_file()
    assert f"kept the demo's home {homes[0]}" in result.stdout
    assert "Traceback" not in out


def test_serve_without_the_postgres_extra_names_the_extra(tmp_path: Path) -> None:
    """A PostgreSQL URL on a runtime-only install (psycopg is the `postgres` extra; refused here by the same finder
    as the runtime-only import check) was 'unexpected error: ModuleNotFoundError: No module named psycopg'."""
    run = ("import sys\nfrom tests.runtime_imports import refuse_optional\nrefuse_optional()\n"
           "sys.argv = ['spotwise', 'serve']\nfrom orchestrator.cli import main\nmain()\n")
    url = "postgresql+psycopg://spotwise:secret@127.0.0.1:5432/spotwise"
    result = subprocess.run([sys.executable, "-c", run], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=_env(tmp_path, SPOTWISE_DATABASE_URL=url, SPOTWISE_PORT=str(free_port())))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: cannot start the daemon: database URL 'postgresql+psycopg://spotwise:***@127.0.0.1:5432/"
                     "spotwise' needs PostgreSQL's driver psycopg, which is not installed: pip install "
                     "'spotwise[postgres]'"], result.stderr


def test_following_a_job_gives_up_after_its_timeout_with_the_state(daemon: Daemon) -> None:
    """The demo follows its job with a time limit: a job that cannot finish (its agent failing on every instance
    left the demo waiting forever) ends the demo with the job's state and reason instead of a silent hang."""
    job = daemon.api("POST", "/v1/jobs", json={"name": "long", "team": "t", "run": "sleep 600",
                                                "resources": {"accelerators": "T4:1"}})
    try:
        began = time.monotonic()
        with pytest.raises(CliError, match=rf"job {job['id']} is still [A-Z_]+ after 2s: "):
            watch(Client(daemon.url, daemon.token), job["id"], poll=0.2, out=make_console(), timeout=2)
        assert time.monotonic() - began < 30
    finally:
        daemon.api("POST", f"/v1/jobs/{job['id']}/cancel")


def test_sigterm_ends_the_demo_and_its_daemon(tmp_path: Path) -> None:
    """A CI timeout or `kill` used to end the demo without its `finally`: the daemon kept running, orphaned."""
    demo = subprocess.Popen([sys.executable, "-m", "orchestrator", "demo"], cwd=tmp_path, env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        url = ""
        for line in demo.stdout:
            if line.startswith("daemon http://"):
                url = line.split()[1]
            if line.startswith("submitted "):
                break
        assert url, "the demo never said where its daemon is"
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) != 0
    finally:
        if demo.poll() is None:
            demo.kill()
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        assert probe.connect_ex((host, int(port))) != 0, "the demo's daemon is still listening"
    assert not list(tmp_path.glob("spotwise-demo-*")), "the demo's home was not removed"
