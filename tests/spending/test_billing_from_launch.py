"""The ledger bills a local instance from its launch, its start-up included, as a cloud bills from launch.

Why this test: the local provider's instances could look as if they were billed for the job's runtime only (the
agent starts, then reports the job running), unlike the clouds, which charge from launch. The ledger has one rule
for every provider: from `Instance.launched_at` to the instance's end. For the local provider `launched_at` is when
its record is written, before the agent process starts. Here the "machine" boots slowly (its interpreter is a
wrapper that sleeps first), so billing from the job's start would charge at least BOOT_SECONDS less.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Daemon, running_daemon, write

BOOT_SECONDS = 3


@pytest.fixture
def slow_booting_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon whose local "machines" take BOOT_SECONDS to boot: the agent's interpreter sleeps, then runs."""
    (tmp_path / "bin").mkdir()
    python = write(tmp_path / "bin" / "python", f"#!/bin/sh\nsleep {BOOT_SECONDS}\nexec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    (tmp_path / "home").mkdir()
    write(tmp_path / "home" / "config.yaml", f"providers:\n  local: {{python: {python}, job_user: daemon}}\n")
    with running_daemon(tmp_path / "home") as daemon:
        yield daemon


def ended_instance(daemon: Daemon, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The job's instance once the daemon has closed it (its reconcile pass does, after the job's exit report)."""
    deadline = time.monotonic() + timeout
    while True:
        listed = daemon.api("GET", "/v1/instances", params={"all": "true"})["items"]
        found = [i for i in listed if i["job_id"] == job_id]
        if len(found) == 1 and found[0]["ended_at"] is not None:
            return found[0]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"the instance of {job_id} was not closed: {found}"
        time.sleep(0.2)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_local_instance_is_billed_from_launch_to_end_start_up_included(slow_booting_daemon: Daemon) -> None:
    daemon = slow_booting_daemon
    job = daemon.api("POST", "/v1/jobs", json={"name": "billed", "run": "sleep 1", "team": "t",
                                                 "resources": {"accelerators": "T4:1", "spot": True}})
    done = daemon.wait_for(job["id"], {"SUCCEEDED", "FAILED", "CANCELLED"}, timeout=90)
    assert done["state"] == "SUCCEEDED", done
    attempt = done["attempt_list"][0]
    instance = ended_instance(daemon, job["id"])
    assert instance["provider"] == "local"
    launched, ended = _at(instance["launched_at"]), _at(instance["ended_at"])
    job_started, job_ended = _at(attempt["started_at"]), _at(attempt["ended_at"])
    assert (job_started - launched).total_seconds() >= BOOT_SECONDS  # the boot happened inside the instance's life

    costs = daemon.api("GET", "/v1/costs", params={"by": "instance"})["items"]
    billed = next(c for c in costs if c["instance"] == f"local/{instance['id']}")
    billed_seconds = round(billed["instance_hours"] * 3600)
    assert billed_seconds == int((ended - launched).total_seconds())  # whole seconds from launch to end
    assert billed_seconds >= int((job_ended - job_started).total_seconds()) + BOOT_SECONDS
    assert billed["cost_usd"] == pytest.approx(instance["price_per_hour"] * billed_seconds / 3600, abs=1e-6)
