"""A real `spotwise serve` subprocess on a free port, and the real CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.cli.demo import free_port, start_daemon, stop_daemon, wait_healthy
from providers.local import processes


@dataclass
class Daemon:
    home: Path
    port: int
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = start_daemon(self.home, self.port, self.extra_env)
        wait_healthy(self.url, self.proc)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop_daemon(self.proc)

    @property
    def token(self) -> str:
        return (self.home / "admin-token").read_text().strip()

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self.url + path, headers={"Authorization": f"Bearer {self.token}"},
                                 timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def cli(self, *args: str, token: str | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SPOTWISE_URL": self.url, "SPOTWISE_TOKEN": self.token if token is None else token,
               "SPOTWISE_HOME": str(self.home / "client-home"), "COLUMNS": "200"}
        result = subprocess.run([sys.executable, "-m", "orchestrator", *args], env=env, capture_output=True,
                                text=True, timeout=120)
        if check:
            assert result.returncode == 0, result.stderr + result.stdout
        return result

    def wait_for(self, job_id: str, states: set[str], timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.api("GET", f"/v1/jobs/{job_id}")
            if job["state"] in states:
                return job  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} stuck in {job['state']}: {json.dumps(job)[:800]}")
            time.sleep(0.2)

    def cluster_id(self) -> str:
        return str(httpx.get(self.url + "/healthz", timeout=10).json()["cluster"])


@contextmanager
def running_daemon(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[Daemon]:
    """A started daemon in `home` (created if missing); stopped after, with every process of its cluster."""
    home.mkdir(parents=True, exist_ok=True)
    d = Daemon(home=home, port=free_port(), extra_env=extra_env or {})
    d.start()
    cluster = d.cluster_id()
    try:
        yield d
    finally:
        d.stop()
        for pid in processes.cluster_pids(cluster):  # never leave a process behind, even on failure
            os.kill(pid, 9)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path / "home") as d:
        yield d


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
