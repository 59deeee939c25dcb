"""kill -9 of the daemon while jobs are provisioning and running loses nothing and leaks nothing."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import pytest

from providers.base import TAG_ATTEMPT
from providers.local import processes
from providers.local.records import RecordStore
from tests.e2e.conftest import Daemon

FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def _submit(daemon: Daemon, name: str, seconds: float) -> str:
    body = {"name": name, "run": f"sleep {seconds}; echo done {name}",
            "resources": {"accelerators": "T4:1", "spot": True}}
    return str(daemon.api("POST", "/v1/jobs", json=body)["id"])


# One seed in `make test` (the chaos runs SIGKILL the daemon 4+ more times); the second with --run-slow.
@pytest.mark.parametrize("seed", [7, pytest.param(2024, marks=pytest.mark.slow)])
def test_sigkill_during_provisioning_and_running(daemon: Daemon, seed: int) -> None:
    rng = random.Random(seed)
    cluster = daemon.cluster_id()
    job_ids: list[str] = []
    for round_ in range(4):
        job_ids += [_submit(daemon, f"r{round_}-{i}", rng.uniform(0.5, 3.0)) for i in range(3)]
        time.sleep(rng.uniform(0.05, 1.5))  # early: mid-launch; later: mid-run
        daemon.kill9()
        time.sleep(rng.uniform(0.1, 1.0))
        daemon.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        states = {j: daemon.api("GET", f"/v1/jobs/{j}")["state"] for j in job_ids}
        if set(states.values()) <= FINAL:
            break
        time.sleep(0.5)
    assert set(states.values()) == {"SUCCEEDED"}, states

    db = sqlite3.connect(daemon.home / "spotwise.db")
    two = db.execute("SELECT attempt_id, COUNT(*) FROM instances GROUP BY attempt_id HAVING COUNT(*) > 1").fetchall()
    assert two == [], f"attempts with two instances: {two}"
    open_rows = db.execute("SELECT id FROM instances WHERE ended_at IS NULL").fetchall()
    db.close()
    # What the "cloud" itself holds: one instance per attempt, whatever the database says.
    per_attempt: dict[str, int] = {}
    for record in RecordStore(Path(daemon.home / "local-provider")).all():
        per_attempt[record.tags[TAG_ATTEMPT]] = per_attempt.get(record.tags[TAG_ATTEMPT], 0) + 1
    assert max(per_attempt.values()) == 1
    deadline = time.monotonic() + 20
    while (processes.cluster_pids(cluster) or open_rows) and time.monotonic() < deadline:
        time.sleep(0.5)
        db = sqlite3.connect(daemon.home / "spotwise.db")
        open_rows = db.execute("SELECT id FROM instances WHERE ended_at IS NULL").fetchall()
        db.close()
    assert processes.cluster_pids(cluster) == [], "processes of ours left behind"
    assert open_rows == []
    logs = daemon.api("GET", f"/v1/jobs/{job_ids[0]}/logs")["items"]
    assert any("done r0-0" in item["data"] for item in logs)
