"""Spot without lost work, end to end on the local provider: the example training job is preempted twice at
random moments by `spotwise chaos preempt`, resumes from its object-storage checkpoints on new instances (each
with its own private disk) and ends with bitwise the same weights as an uninterrupted run."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import Daemon, write

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Long enough that the second attempt is still training when its preemption comes, even on a loaded
# machine (with 240 steps it sometimes finished first: two attempts instead of three).
STEPS, EVERY, STEP_SECONDS = 400, 20, 0.03
ARGS = f"--steps {STEPS} --checkpoint-every {EVERY} --step-seconds {STEP_SECONDS}"


def _running_instance(daemon: Daemon, job_id: str, attempt: int, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = daemon.api("GET", f"/v1/jobs/{job_id}")
        live = [a for a in job["attempt_list"] if a["number"] == attempt and a["state"] == "RUNNING"]
        if live:
            items = daemon.api("GET", "/v1/instances")["items"]
            ids = [i["id"] for i in items if i.get("attempt_id") == live[0]["id"]]
            if ids:
                return str(ids[0])
        time.sleep(0.2)
    raise AssertionError(f"attempt {attempt} of {job_id} never ran")


def _logs(daemon: Daemon, job_id: str) -> str:
    return "".join(i["data"] for i in daemon.api("GET", f"/v1/jobs/{job_id}/logs")["items"])


def test_preempted_twice_resumes_from_checkpoints_with_identical_weights(daemon: Daemon, tmp_path: Path) -> None:
    reference = subprocess.Popen([sys.executable, str(EXAMPLES / "train_numpy.py"), *ARGS.split(), "--step-seconds",
                                  "0"], cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                                 env={"SPOTWISE_CHECKPOINT_DIR": str(tmp_path / "ref-ckpt"), "PATH": "/usr/bin:/bin"})
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    spec = write(tmp_path / "train.yaml", f"""
name: resume-e2e
resources: {{accelerators: "T4:1", spot: true}}
run: python -u {EXAMPLES / 'train_numpy.py'} {ARGS}
checkpoint: {{dir: /ckpt, interval: 1s, keep: 2}}
""")
    job_id = json.loads(daemon.cli("submit", str(spec), "-o", "json", check=True).stdout)["id"]
    for attempt in (1, 2):
        instance = _running_instance(daemon, job_id, attempt)
        time.sleep(rng.uniform(1.0, 2.5))  # a random moment mid-training
        daemon.cli("chaos", "preempt", instance, "--grace", "4", check=True)
    job = daemon.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout=90)
    logs = _logs(daemon, job_id)
    assert job["state"] == "SUCCEEDED", f"seed {seed}: {job}\n{logs[-3000:]}"
    states = [a["state"] for a in job["attempt_list"]]
    assert states == ["PREEMPTED", "PREEMPTED", "SUCCEEDED"], (seed, states)
    assert job["restarts"] == 2

    ref_out, _ = reference.communicate(timeout=60)
    expected = re.search(r"weights sha256 ([0-9a-f]{64})", ref_out)
    got = re.search(r"weights sha256 ([0-9a-f]{64})", logs)
    assert expected and got and got.group(1) == expected.group(1), f"seed {seed}: weights differ"

    # Lost work per preemption: steps done before the stop minus the step the next attempt resumed from.
    stopped = [int(s) for s in re.findall(r"SIGTERM: checkpoint saved at step (\d+)", logs)]
    resumed = [int(s) for s in re.findall(r"resumed from checkpoint at step (\d+)", logs)]
    assert len(stopped) == 2 and len(resumed) == 2, logs[-3000:]
    lost = [s - r for s, r in zip(stopped, resumed, strict=True)]
    assert all(0 <= x <= EVERY for x in lost), (seed, lost)
    print(f"seed {seed}: stopped at {stopped}, resumed at {resumed}, lost steps {lost}")

    # Each resumed attempt names the checkpoint it restored; `jobs show` lists it with cloud, market and cost.
    first, second, third = job["attempt_list"]
    assert first["resumed_from"] is None and second["resumed_from"] and third["resumed_from"]
    assert int(third["resumed_from"]) > int(second["resumed_from"])
    shown = daemon.cli("jobs", "show", job_id, check=True).stdout
    assert "RESUMED FROM" in shown and third["resumed_from"] in shown and "spot" in shown
    events = daemon.api("GET", f"/v1/jobs/{job_id}/events")["items"]
    assert any(e["kind"] == "checkpoint" and e["reason"].startswith("uploaded checkpoint") for e in events)
    assert any("preempted: placing again at once" in e["reason"] for e in events)
    # The versions list the dashboard shows: newest first, each resumed-from version among them.
    versions = daemon.api("GET", f"/v1/jobs/{job_id}/checkpoints")["items"]
    names = [v["version"] for v in versions]
    assert names == sorted(names, reverse=True) and {second["resumed_from"], third["resumed_from"]} <= set(names)
    assert all(v["size_bytes"] > 0 and v["files"] >= 1 and v["attempt"] for v in versions)
