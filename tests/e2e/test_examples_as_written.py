"""The README's example specs run as written: `spotwise submit examples/gang-allreduce.yaml --wait`.

Why: the examples used to read their script from `$SPOTWISE_EXAMPLES_DIR`, set to "." in the file, so
submitting them as linked failed with exit code 2 ("can't open file ./gang_allreduce.py") until the user
edited the file. They now ship their folder as the job's `workdir`, so the command runs next to the script.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Daemon

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_gang_example_submitted_as_written_succeeds(daemon: Daemon) -> None:
    result = daemon.cli("submit", str(EXAMPLES / "gang-allreduce.yaml"), "--wait")
    assert result.returncode == 0, result.stderr + result.stdout
    assert f"workdir {EXAMPLES}" in result.stdout  # the folder was packed and uploaded
    jobs = daemon.api("GET", "/v1/jobs")["items"]
    [job] = [j for j in jobs if j["name"] == "gang-allreduce"]
    assert job["state"] == "SUCCEEDED", json.dumps(job)
    logs = "".join(i["data"] for i in daemon.api("GET", f"/v1/jobs/{job['id']}/logs")["items"])
    assert "can't open file" not in logs
