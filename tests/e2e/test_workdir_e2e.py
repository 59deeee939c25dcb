"""Workdirs end to end: a real daemon, the real CLI and the local provider. `spotwise submit` packs `workdir: .`,
the agent unpacks identical files (ignored ones absent), a relaunch after the user edits the directory still runs
the original digest, a secret reaches the job's environment and nowhere else, and a file:// workdir store works."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Daemon, running_daemon

SECRET = "s3cr3t-value-7f1e"
RUN = (
    'echo "version=$(cat version.txt) attempt=$SPOTWISE_ATTEMPT"; '
    'find . -type f -print0 | sort -z | xargs -0 sha256sum | sed "s/^/file /"; '
    'echo "secret-sha=$(printf %s "$WANDB_API_KEY" | sha256sum | cut -c1-16)"; '
    'if [ "$SPOTWISE_ATTEMPT" = 1 ]; then exit 75; fi'
)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path / "home", {"SPOTWISE_RETRY_BACKOFF_SECONDS": "0.2"}) as d:
        yield d


def _project(root: Path) -> dict[str, bytes]:
    """A project tree; returns the files the job must see (relative path -> content)."""
    files = {
        "version.txt": b"v1\n", "train.py": b"print('hi')\n", "pkg/model.py": b"W = 1\n", "sub/keep.py": b"k\n",
        ".gitignore": b"*.log\nout/\n", ".spotwiseignore": b"credentials.txt\n", "sub/.gitignore": b"*.tmp\n",
    }
    ignored = {"run.log": b"noise", "out/weights.bin": b"x" * 1000, "credentials.txt": b"do not ship",
               "sub/scratch.tmp": b"tmp", ".git/HEAD": b"ref: refs/heads/main\n"}
    for rel, data in {**files, **ignored}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def _cli(daemon: Daemon, *args: str, cwd: Path, stdin: str | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "SPOTWISE_URL": daemon.url, "SPOTWISE_TOKEN": daemon.token,
            "SPOTWISE_HOME": str(daemon.home / "client-home"), "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], env=full, capture_output=True, text=True,
                          timeout=120, cwd=cwd, input=stdin)


def _seen(daemon: Daemon, job_id: str) -> dict[int, tuple[str, dict[str, str]]]:
    """Per attempt number: the version line and {path: sha256} the job printed."""
    logs = "".join(item["data"] for item in daemon.api("GET", f"/v1/jobs/{job_id}/logs")["items"])
    out: dict[int, tuple[str, dict[str, str]]] = {}
    attempt = 0
    for line in logs.splitlines():
        if line.startswith("version="):
            attempt = int(line.rpartition("attempt=")[2])
            out[attempt] = (line.split()[0], {})
        elif line.startswith("file "):
            _, digest, path = line.split(maxsplit=2)
            out[attempt][1][path.removeprefix("./")] = digest
    return out


def test_workdir_secret_and_relaunch_keep_the_submitted_tree(daemon: Daemon, tmp_path: Path) -> None:
    project = tmp_path / "project"
    expected = _project(project)
    (project / "job.yaml").write_text(
        "name: from-dir\nworkdir: .\nsecrets: [WANDB_API_KEY]\nrestart_exit_codes: [75]\nmax_restarts: 2\n"
        f"run: '{RUN}'\n")
    expected["job.yaml"] = (project / "job.yaml").read_bytes()
    missing = _cli(daemon, "submit", "job.yaml", cwd=project)
    assert missing.returncode == 1 and "WANDB_API_KEY" in missing.stderr and "secrets set" in missing.stderr
    made = _cli(daemon, "secrets", "set", "WANDB_API_KEY", cwd=project, stdin=SECRET + "\n")
    assert made.returncode == 0, made.stderr
    submitted = _cli(daemon, "submit", "job.yaml", "-o", "json", cwd=project)
    assert submitted.returncode == 0, submitted.stderr
    import json

    job = json.loads(submitted.stdout)
    (project / "version.txt").write_text("v2 edited after submit\n")  # the relaunch must not pick this up
    (project / "new_file.py").write_text("added later\n")
    final = daemon.wait_for(job["id"], {"SUCCEEDED", "FAILED"}, timeout=60)
    assert final["state"] == "SUCCEEDED" and final["attempts"] == 2
    seen = _seen(daemon, job["id"])
    want = {rel: hashlib.sha256(data).hexdigest() for rel, data in expected.items()}
    for number in (1, 2):
        version, files = seen[number]
        assert version == "version=v1"
        assert files == want  # identical files; ignored ones (logs, out/, .git, .spotwiseignore'd) absent
    logs = json.dumps(daemon.api("GET", f"/v1/jobs/{job['id']}/logs"))
    assert f"secret-sha={hashlib.sha256(SECRET.encode()).hexdigest()[:16]}" in logs and SECRET not in logs
    shown = _cli(daemon, "jobs", "show", job["id"], "-o", "json", cwd=project).stdout
    listed = _cli(daemon, "secrets", "list", "-o", "json", cwd=project).stdout
    assert "WANDB_API_KEY" in listed and SECRET not in listed and SECRET not in shown
    assert SECRET not in (daemon.home / "daemon.log").read_text()
    digest = final["spec"]["workdir_ref"]["digest"]
    assert (daemon.home / "workdirs" / f"{digest}.tar.gz").is_file()


def test_workdir_through_a_file_store(daemon: Daemon, tmp_path: Path) -> None:
    project = tmp_path / "project"
    _project(project)
    (project / "job.yaml").write_text("name: file-store\nworkdir: .\nrun: cat version.txt pkg/model.py\n")
    store = tmp_path / "bucket"
    env = {"SPOTWISE_WORKDIR_STORE": f"file://{store}"}
    first = _cli(daemon, "submit", "job.yaml", "-o", "json", cwd=project, env=env)
    assert first.returncode == 0, first.stderr
    assert "uploaded to file://" in first.stderr
    again = _cli(daemon, "submit", "job.yaml", "-o", "json", cwd=project, env=env)
    assert "already stored" in again.stderr  # content-addressed: the same tree is not sent twice
    import json

    job_id = json.loads(first.stdout)["id"]
    final = daemon.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout=60)
    assert final["state"] == "SUCCEEDED"
    logs = "".join(i["data"] for i in daemon.api("GET", f"/v1/jobs/{job_id}/logs")["items"])
    assert "v1\nW = 1" in logs
    assert len(list((store / "workdirs").glob("*.tar.gz"))) == 1
