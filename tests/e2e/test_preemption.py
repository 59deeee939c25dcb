"""`spotwise chaos preempt`: notice first, kill after the grace period, job relaunched elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Daemon, write


def test_preempted_spot_job_is_relaunched_and_finishes(daemon: Daemon, tmp_path: Path) -> None:
    spec = write(tmp_path / "spot.yaml", """
name: preemptible
resources: {accelerators: "T4:1", spot: true}
run: |
  trap 'echo got SIGTERM on attempt $SPOTWISE_ATTEMPT; exit 143' TERM
  if [ "$SPOTWISE_ATTEMPT" = 1 ]; then sleep 120 & wait; fi
  echo finished on attempt $SPOTWISE_ATTEMPT resumed=$SPOTWISE_RESUMED
""")
    job_id = json.loads(daemon.cli("submit", str(spec), "-o", "json", check=True).stdout)["id"]
    daemon.wait_for(job_id, {"RUNNING"})
    [instance] = json.loads(daemon.cli("instances", "list", "-o", "json", check=True).stdout)["items"]
    assert instance["spot"] and instance["job_id"] == job_id
    result = daemon.cli("chaos", "preempt", instance["id"], "--grace", "2", check=True)
    assert "preemption notice sent" in result.stdout
    job = daemon.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout=60)
    assert job["state"] == "SUCCEEDED" and job["attempts"] == 2 and job["restarts"] == 1
    first, second = job["attempt_list"]
    assert first["state"] == "PREEMPTED" and second["state"] == "SUCCEEDED"
    logs = "".join(i["data"] for i in daemon.api("GET", f"/v1/jobs/{job_id}/logs")["items"])
    assert "got SIGTERM on attempt 1" in logs and "finished on attempt 2 resumed=1" in logs
    on_demand = daemon.cli("chaos", "preempt", "local-000000000000")
    assert on_demand.returncode != 0 and "not found" in on_demand.stderr
