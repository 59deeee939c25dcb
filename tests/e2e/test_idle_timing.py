"""The idle warning's promise is kept: "shutdown in 3s" shuts the instance down 3 s later (within a second or two),
not at the next regular idle pass. Against a real daemon whose idle interval (6 s) is twice the grace and past the
5 s the test allows: a shutdown left to the next regular pass comes at least 6 s after the warning and fails it.
(It was 10 s; each extra second of interval is a second more the test waits for the first warning.)
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from tests.e2e.conftest import running_daemon, write

POLICY = "idle:\n  - {scope: 'label:story=idle', window: 2s, grace: 3s}\n"


def test_the_shutdown_comes_when_the_warning_said(tmp_path: Path) -> None:
    env = {"SPOTWISE_IDLE_INTERVAL_SECONDS": "6", "SPOTWISE_ALERT_INTERVAL_SECONDS": "0.5"}
    with running_daemon(tmp_path / "home", env) as d:
        d.cli("policy", "apply", str(write(tmp_path / "policy.yaml", POLICY)), check=True)
        spec = write(tmp_path / "idle.yaml", "name: stuck\nlabels: {story: idle}\nsetup: sleep 600\nrun: 'true'\n"
                                             "resources: {accelerators: 'T4:1'}\n")
        d.cli("submit", str(spec), check=True)
        deadline = time.monotonic() + 60
        while True:
            alerts = {a["kind"]: a for a in d.api("GET", "/v1/alerts", params={"limit": 50})["items"]}
            if "shutdown.idle" in alerts:
                break
            assert time.monotonic() < deadline, sorted(alerts)
            time.sleep(0.5)
    warned, shut = alerts["idle.warning"], alerts["shutdown.idle"]
    assert "shutdown in 3s (at " in warned["subject"]
    gap = (datetime.fromisoformat(shut["created_at"]) - datetime.fromisoformat(warned["created_at"])).total_seconds()
    assert 3.0 <= gap <= 5.0, f"warned 'shutdown in 3s', shut down after {gap:.1f}s"
