"""An out-of-tree cloud end to end: tests/plugins/toycloud, installed only by putting its directory on PYTHONPATH
(its entry point in the `spotwise.clouds` group), runs a spot job through preemption and resume. Its own notice
watcher tells the agent (a text notice, not the local provider's JSON), its own identity module proves each
instance in the bootstrap exchange, and its own `toy://` store holds the checkpoints; no file outside its package
names it."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from tests.e2e.conftest import Daemon, running_daemon, write
from tests.e2e.wheel import agent_wheel_env

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "tests" / "plugins"
EXAMPLES = REPO / "examples"
ARGS = "--steps 300 --checkpoint-every 20 --step-seconds 0.03"


def _running_instance(daemon: Daemon, job_id: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = daemon.api("GET", f"/v1/jobs/{job_id}")
        live = [a for a in job["attempt_list"] if a["number"] == 1 and a["state"] == "RUNNING"]
        items = daemon.api("GET", "/v1/instances")["items"] if live else []
        ids = [i["id"] for i in items if live and i.get("attempt_id") == live[0]["id"]]
        if ids:
            return str(ids[0])
        time.sleep(0.2)
    raise AssertionError(f"attempt 1 of {job_id} never ran")


def _logs(daemon: Daemon, job_id: str) -> str:
    return "".join(i["data"] for i in daemon.api("GET", f"/v1/jobs/{job_id}/logs")["items"])


def test_a_plugin_cloud_preempts_and_resumes_from_its_own_store(tmp_path: Path) -> None:
    store = tmp_path / "toy-store"
    store.mkdir(mode=0o777)
    (tmp_path / "home").mkdir()
    jobs = tmp_path / "jobs"
    write(tmp_path / "home" / "config.yaml",
          f"providers:\n  toycloud: {{jobs_dir: '{jobs}'}}\ncheckpoint_store: toy://bucket/ckpt\n")
    # a cloud other than `local` pins the agent wheel into its launches: the one built once per source tree
    # (tests/e2e/wheel.py), not a `pip wheel` of the daemon's own inside this test's first launch
    env = {"PYTHONPATH": os.pathsep.join([str(REPO), str(PLUGINS)]), "TOYCLOUD_STORE_ROOT": str(store),
           **agent_wheel_env(tmp_path / "home")}
    with running_daemon(tmp_path / "home", env) as daemon:
        spec = write(tmp_path / "train.yaml", f"""
name: toycloud-resume
resources: {{accelerators: "T4:1", spot: true}}
run: python -u {EXAMPLES / 'train_numpy.py'} {ARGS}
checkpoint: {{dir: /ckpt, interval: 1s, keep: 2}}
""")
        job_id = json.loads(daemon.cli("submit", str(spec), "-o", "json", check=True).stdout)["id"]
        instance = _running_instance(daemon, job_id)
        listed = json.loads(daemon.cli("instances", "list", "-o", "json", check=True).stdout)["items"]
        assert [i["provider"] for i in listed if i["id"] == instance] == ["toycloud"]
        time.sleep(2.0)  # some training, some checkpoints
        daemon.cli("chaos", "preempt", instance, "--grace", "4", check=True)
        job = daemon.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout=120)
        logs = _logs(daemon, job_id)
        assert job["state"] == "SUCCEEDED", f"{job}\n{logs[-3000:]}"
        assert [a["state"] for a in job["attempt_list"]] == ["PREEMPTED", "SUCCEEDED"]
        assert job["attempt_list"][1]["resumed_from"], job
        assert re.search(r"resumed from checkpoint at step \d+", logs), logs[-3000:]
        # The agent heard of the preemption through toycloud's watcher: only it reads the text notice.
        notices = list((jobs / "notices").glob("*.json"))
        assert notices and all(n.read_text().startswith("preempt ") for n in notices)
        agent_log = (jobs / "logs" / f"{instance}.log").read_text(errors="replace")
        assert "spotwise-agent: preemption notice: preempt at" in agent_log, agent_log[-3000:]
        # Each agent proved its instance with toycloud's own identity module (toycloud/identity.py).
        events = json.dumps(daemon.api("GET", f"/v1/jobs/{job_id}/events")["items"])
        assert events.count("identity: toy_instance matched") == 2, events
        # The checkpoints went to toy://bucket/ckpt, i.e. into toycloud's store directory.
        assert any(p.is_file() for p in (store / "bucket" / "ckpt").rglob("*")), sorted(store.rglob("*"))
