"""Honest answers at submit, end to end: the real daemon (local provider only) and the real CLI as subprocesses. A job
no configured provider could ever run is refused with what exists instead, `submit --dry-run` shows where a job
would go and queues nothing, and `jobs show` of a waiting job says what it waits for and when it looks again."""

from __future__ import annotations

import json
import time
from pathlib import Path

from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.runtime import build_runtime
from orchestrator.store.db import transaction
from tests.e2e.conftest import Daemon, write

BASE = "name: x\nrun: 'true'\n"


def _offers_loaded(daemon: Daemon) -> None:
    """The local provider's offers are in the daemon's store (its price loop loads them at start)."""
    deadline = time.monotonic() + 60
    while daemon.api("GET", "/v1/offers", params={"limit": 1})["offers_cached"] == 0:
        assert time.monotonic() < deadline, "the daemon never loaded the local provider's offers"
        time.sleep(0.2)


def _refused(daemon: Daemon, tmp_path: Path, resources: str, *flags: str) -> str:
    result = daemon.cli("submit", str(write(tmp_path / "spec.yaml", BASE + f"resources: {resources}\n")), *flags)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr
    return " ".join(result.stderr.split())  # one line, whatever the terminal wrapped


def test_impossible_jobs_are_refused_with_what_exists(daemon: Daemon, tmp_path: Path) -> None:
    _offers_loaded(daemon)
    typo = _refused(daemon, tmp_path, "{accelerators: 'A1OO:1'}")
    assert "error: resources.accelerators: unknown GPU model 'A1OO'; did you mean A100?" in typo, typo
    count = _refused(daemon, tmp_path, "{accelerators: 'A100:1', spot: true}")
    assert "error: no configured provider offers A100:1 spot; local offers A100:8 ($11.57/h spot in local-west-a)" \
        in count, count
    assert "aws, azure, gcp are not configured ('spotwise providers list')" in count, count
    cloud = _refused(daemon, tmp_path, "{accelerators: 'T4:1', clouds: [aws]}")
    assert "resources.clouds: 'aws' is not a provider this daemon has configured; configured: local" in cloud, cloud
    huge = _refused(daemon, tmp_path, "{memory_gb: 1e308}")
    assert "resources.memory_gb: 1e+308 is more than any machine has" in huge, huge
    dry = _refused(daemon, tmp_path, "{accelerators: 'A100:1'}", "--dry-run")  # a dry run is refused alike
    assert "no configured provider offers A100:1;" in dry, dry
    assert json.loads(daemon.cli("jobs", "list", "-o", "json", check=True).stdout)["items"] == []


def test_dry_run_shows_the_best_offers_and_queues_nothing(daemon: Daemon, tmp_path: Path) -> None:
    _offers_loaded(daemon)
    spec = write(tmp_path / "spec.yaml", BASE + "resources: {accelerators: 'A100_80GB:8'}\n")
    table = daemon.cli("submit", str(spec), "--dry-run", check=True).stdout
    assert "dry run for x (A100-80GB:8, team default): nothing was queued" in table, table
    assert "where it would go now" in table and "p4de.24xlarge" in table and "cheapest matching" in table, table
    shown = json.loads(daemon.cli("submit", str(spec), "--dry-run", "-o", "json", check=True).stdout)
    assert shown["queued"] is False and shown["accelerators"] == "A100-80GB:8"
    assert 1 <= len(shown["offers"]) <= 3 and shown["offers"][0]["gpu_model"] == "A100-80GB"
    assert json.loads(daemon.cli("jobs", "list", "-o", "json", check=True).stdout)["items"] == []
    alias = write(tmp_path / "t4.yaml", BASE + "resources: {accelerators: nvidia-tesla-t4}\n")
    job = json.loads(daemon.cli("submit", str(alias), "-o", "json", check=True).stdout)
    assert job["accelerators"] == "T4:1"


def test_a_stored_job_nothing_matches_shows_what_it_waits_for(daemon: Daemon, tmp_path: Path) -> None:
    """A job stored before the submit check existed (written to the daemon's database as an older daemon did)."""
    _offers_loaded(daemon)
    rt = build_runtime(Settings(home=daemon.home), with_providers=False)
    try:
        with transaction(rt.sessions) as s:
            job_id = submit(s, JobSpec.model_validate(
                {"name": "old", "run": "true", "resources": {"accelerators": "A100:1", "spot": True}})).id
    finally:
        rt.close()
    job = daemon.wait_for(job_id, {"WAITING_CAPACITY"})
    assert job["reason"].startswith("no offer matches: no configured provider offers A100:1 spot; local offers "
                                    "A100:8"), job["reason"]
    shown = " ".join(daemon.cli("jobs", "show", job_id, check=True).stdout.split())
    assert "waits for no offer matches: no configured provider offers A100:1 spot" in shown, shown
    assert "next look 20" in shown and ("(in " in shown or "(due now)" in shown), shown
    assert "blocked" not in shown, shown
