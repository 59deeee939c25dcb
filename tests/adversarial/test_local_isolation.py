"""A team's job on the local provider reads nothing of the daemon's nor of another team's.

The attacker is team b's job: it tries the daemon's admin token, secrets key, agent-token key and database (by
absolute path and by walking up from its own working directory), every process's environment under /proc, and
every file under the daemon's home and its own job root, looking for team a's marker and secret. Team a's job
runs meanwhile (so its process and files exist) and must still succeed.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest

from orchestrator.homeperms import prepare_home
from tests.adversarial.jobpython import DEFAULT_ISOLATES, JOB_PYTHON
from tests.adversarial.tenants import job, two_teams

SPY = r"""
import os, pathlib
home = pathlib.Path(os.environ["TARGET_HOME"])
mark = bytes.fromhex(os.environ["MARK_HEX"])
secret = bytes.fromhex(os.environ["SECRET_HEX"])
print("CWD", os.getcwd())
print("UID", os.getuid())
def peek(path):
    try:
        print("READ", path, pathlib.Path(path).read_bytes()[:200])
    except Exception as exc:
        print("DENIED", path, type(exc).__name__)
up = pathlib.Path.cwd()
for name in ("admin-token", "secrets.key", "agent-token.key", "spotwise.db", "spotwise.db-wal"):
    peek(home / name)
    for depth in range(1, 7):
        peek(pathlib.Path(*[".."] * depth) / name)
roots = {str(home), str(up.parents[min(3, len(up.parents) - 1)])}
for root in sorted(roots):
    for folder, _, files in os.walk(root):
        for f in files:
            try:
                with open(os.path.join(folder, f), "rb") as handle:
                    data = handle.read(1 << 22)
            except Exception:
                continue
            if mark in data or secret in data:
                print("FOUND-FILE", os.path.join(folder, f))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            env = open(f"/proc/{pid}/environ", "rb").read()
        except Exception:
            continue
        if mark in env or secret in env:
            print("FOUND-ENV", pid)
print("SPY-DONE")
"""


@pytest.mark.skipif(JOB_PYTHON is None, reason="isolating local jobs needs a daemon started as root (CI runs so) "
                    "and a Python an unprivileged user can run")
def test_a_team_job_cannot_read_the_daemon_or_another_teams_job(tmp_path: Path) -> None:
    assert JOB_PYTHON is not None
    python, pythonpath = JOB_PYTHON
    env = {"SPOTWISE_PROVIDERS": json.dumps({"local": {"job_user": "team", "python": python}}),
           "PYTHONPATH": pythonpath}
    mark, secret = "mark-of-team-a-7f3c", "secret-of-team-a-91d2"
    gate = Path(tempfile.mkdtemp(prefix="spotwise-gate-"))  # team a's job waits for this test's signal
    gate.chmod(0o755)
    try:
        with two_teams(tmp_path / "home", env) as t:
            t.ok("a", "PUT", "/v1/secrets/A_SECRET", json={"value": secret})
            victim = t.submit("a", job("victim", f'printf %s "$A_MARK" > a-private.txt; echo ready; '
                                       f'for i in $(seq 900); do [ -e {gate}/go ] && break; sleep 0.1; done; '
                                       'cat a-private.txt', env={"A_MARK": mark}, secrets=["A_SECRET"]))
            t.wait_log("a", victim, "ready")
            spy = t.submit("b", job("spy", 'python3 -c "$SPY"', env={
                "SPY": SPY, "TARGET_HOME": str(t.home), "MARK_HEX": mark.encode().hex(),
                "SECRET_HEX": secret.encode().hex()}))
            spied = t.wait("b", spy)
            (gate / "go").touch()
            kept = t.wait("a", victim)
            log = t.logs("b", spy)
            assert spied["state"] == "SUCCEEDED" and "SPY-DONE" in log, log[-3000:]
            assert t.tokens["admin"] not in log
            assert "SQLite format 3" not in log
            for name in ("secrets.key", "agent-token.key"):
                if (t.home / name).exists():
                    assert (t.home / name).read_text().strip()[:16] not in log, name
            assert "FOUND-FILE" not in log and "FOUND-ENV" not in log, log[-3000:]
            assert not [line for line in log.splitlines() if line.startswith("READ")], log[-3000:]
            cwd = next(line for line in log.splitlines() if line.startswith("CWD")).split(" ", 1)[1]
            assert not Path(cwd).resolve().is_relative_to(t.home.resolve()), "job directory inside the home"
            assert "UID 0" not in log  # an unprivileged user of its own
            # the other team is unharmed: its job ran to the end and its files were its own
            assert kept["state"] == "SUCCEEDED", kept.get("reason")
            assert t.logs("a", victim).rstrip().endswith(mark)
    finally:
        (gate / "go").unlink(missing_ok=True)
        gate.rmdir()


def test_the_daemons_home_is_private_to_its_user(tmp_path: Path) -> None:
    fresh = tmp_path / "made-by-the-daemon"
    assert prepare_home(fresh) == [] and fresh.stat().st_mode & 0o777 == 0o700
    (tmp_path / "home").mkdir(mode=0o700)  # the harness makes it first (for daemon.log), as an operator would
    with two_teams(tmp_path / "home") as t:
        t.ok("a", "PUT", "/v1/secrets/TOKEN", json={"value": "x"})  # makes secrets.key
        time.sleep(0.5)
        assert (t.home.stat().st_mode & 0o777) == 0o700
        loose = [f"{p.relative_to(t.home)} {p.stat().st_mode & 0o777:o}" for p in t.home.iterdir()
                 if p.stat().st_mode & 0o077 and p.name != "daemon.log"]
        assert not loose, loose


@pytest.mark.skipif(DEFAULT_ISOLATES, reason="here the local provider can isolate team jobs, so it runs them")
def test_a_team_job_is_refused_where_the_local_provider_cannot_isolate_it(tmp_path: Path) -> None:
    with two_teams(tmp_path / "home") as t:
        refused = t.wait("b", t.submit("b", job("team-b-job", "cat ../../../../admin-token")))
        assert refused["state"] == "FAILED" and "refuses jobs submitted with a team token" in refused["reason"]
        assert "job_user" in refused["reason"]
        trusted = t.wait("admin", t.submit("admin", job("admin-job", "echo fine", team="a")))
        assert trusted["state"] == "SUCCEEDED", trusted.get("reason")
