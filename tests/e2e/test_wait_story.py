"""`spotwise submit --wait`, piped, tells the story of a spot job: the instance and zone of each attempt, the
preemption and the checkpoint it resumed from, and on failure the reason; `jobs show` gives the current
attempt's reason, not the last attempt's. Against a real daemon, with a real preemption on the local provider.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import Daemon, write

SPOT = """
name: story
resources: {accelerators: "T4:1", spot: true}
checkpoint: {dir: /ckpt, interval: 1s}
run: |
  trap 'echo got SIGTERM; exit 143' TERM
  echo "step 3" > $SPOTWISE_CHECKPOINT_DIR/state
  if [ "$SPOTWISE_ATTEMPT" = 1 ]; then sleep 120 & wait; fi
  sleep 4 & wait
  echo finished on attempt $SPOTWISE_ATTEMPT
"""


def _wait_piped(daemon: Daemon, spec: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "SPOTWISE_URL": daemon.url, "SPOTWISE_TOKEN": daemon.token,
           "SPOTWISE_HOME": str(daemon.home / "client-home")}
    return subprocess.Popen([sys.executable, "-m", "orchestrator", "submit", str(spec), "--wait"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _job_of(daemon: Daemon, name: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while True:
        items = [j for j in daemon.api("GET", "/v1/jobs")["items"] if j["name"] == name]
        if items:
            return items[0]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"no job named {name}"
        time.sleep(0.2)


def test_wait_narrates_a_preemption_and_show_gives_the_current_reason(daemon: Daemon, tmp_path: Path) -> None:
    proc = _wait_piped(daemon, write(tmp_path / "spot.yaml", SPOT))
    try:
        job_id = str(_job_of(daemon, "story")["id"])
        daemon.wait_for(job_id, {"RUNNING"})
        time.sleep(1.5)  # a checkpoint is uploaded (interval 1s)
        first = daemon.api("GET", f"/v1/jobs/{job_id}")["attempt_list"][0]
        daemon.cli("chaos", "preempt", first["instance_id"], "--grace", "2", check=True)
        deadline = time.monotonic() + 60
        while True:  # attempt 2 running: `jobs show` must speak of it, not of the preemption
            job = daemon.api("GET", f"/v1/jobs/{job_id}")
            if job["state"] == "RUNNING" and job["attempts"] == 2:
                break
            assert time.monotonic() < deadline and job["state"] not in ("FAILED", "SUCCEEDED"), job
            time.sleep(0.2)
        shown = daemon.cli("jobs", "show", job_id, check=True).stdout
        reason = re.search(r"^\s+reason\s+(.*)$", shown, re.M)
        assert reason and "attempt 2" in reason.group(1) and "preemption" not in reason.group(1), shown
        out, _ = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    second = daemon.api("GET", f"/v1/jobs/{job_id}")["attempt_list"][1]
    assert re.search(rf"attempt 1 started on instance {first['instance_id']} \({first['instance_type']} spot, "
                     rf"\$[\d.]+/h\) in {first['zone']}", out), out
    assert re.search(rf"attempt 1 PREEMPTED in {first['zone']} \({first['instance_id']}\): .*preemption.*; "
                     r"the job restarts \(restart 1\)", out), out
    assert (f"attempt 1 PREEMPTED in {first['zone']} -> resuming from checkpoint {second['resumed_from']} on "
            f"{second['zone']} (attempt 2, instance {second['instance_id']} ({second['instance_type']} spot, $"
            ) in out, out
    assert second["resumed_from"] and "finished on attempt 2" in out
    assert f"job {job_id} SUCCEEDED" in out
    assert out.index("attempt 1 started") < out.index("attempt 1 PREEMPTED") < out.index("finished on attempt 2")


def test_wait_says_why_a_job_failed(daemon: Daemon, tmp_path: Path) -> None:
    spec = write(tmp_path / "bad.yaml", "name: bad\nrun: 'echo oops; exit 3'\nmax_restarts: 0\n"
                                        "resources: {accelerators: 'T4:1'}\n")
    proc = _wait_piped(daemon, spec)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 1, out
    job = daemon.api("GET", f"/v1/jobs/{_job_of(daemon, 'bad')['id']}")
    assert job["state"] == "FAILED" and job["reason"]
    assert re.search(r"attempt 1 started on instance \S+ \(\S+ (spot|on-demand), \$[\d.]+/h\) in \S+", out), out
    assert f"attempt 1 FAILED in {job['attempt_list'][0]['zone']}" in out
    assert f"  reason: {job['reason']}" in out and "exit code 3" in out
