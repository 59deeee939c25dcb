"""The agent's HTTP client: every call retried with backoff, because the daemon may be restarting.

A 4xx other than 408/429 is final (the daemon has said no); anything else is retried until the
deadline, so a daemon killed with SIGKILL and started again loses no report.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx


class DaemonRefused(Exception):
    """The daemon answered with a final 4xx."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"daemon refused with {status}: {body[:300]}")
        self.status = status


class AgentClient:
    def __init__(self, base_url: str, token: str, attempt_id: str, timeout: float = 10.0) -> None:
        self.attempt_id = attempt_id
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}"})
        self._prefix = f"/v1/agent/attempts/{attempt_id}"

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, json: Any = None, give_up_after: float = 3600.0) -> Any:
        deadline = time.monotonic() + give_up_after
        delay = 0.2
        while True:
            try:
                response = self._http.request(method, self._prefix + path, json=json)
                if response.status_code < 400:
                    return response.json()
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    raise DaemonRefused(response.status_code, response.text)
            except httpx.HTTPError:
                pass
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"daemon unreachable for {give_up_after:g}s ({method} {path})")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def download(self, path: str, dest: Path, give_up_after: float = 600.0) -> None:
        """Stream an agent-API file (workdir archive) to `dest`, retried like every call."""
        deadline = time.monotonic() + give_up_after
        delay = 0.5
        while True:
            try:
                with self._http.stream("GET", self._prefix + path, timeout=120.0) as response:
                    if response.status_code < 400:
                        with open(dest, "wb") as out:
                            for block in response.iter_bytes(1 << 20):
                                out.write(block)
                        return
                    if response.status_code not in (408, 429) and response.status_code < 500:
                        raise DaemonRefused(response.status_code, response.read().decode(errors="replace"))
            except httpx.HTTPError:
                pass
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"daemon unreachable for {give_up_after:g}s (GET {path})")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def spec(self) -> dict[str, Any]:
        return self.call("GET", "/spec")  # type: ignore[no-any-return]

    def heartbeat(self, phase: str, gpu_utilization: float | None,
                  gpu_power_watts: float | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"phase": phase, "gpu_utilization": gpu_utilization}
        if gpu_power_watts is not None:  # sent only when measured: the daemon estimates otherwise
            body["gpu_power_watts"] = gpu_power_watts
        return self.call("POST", "/heartbeat", json=body, give_up_after=30.0)  # type: ignore[no-any-return]

    def checkpoint(self, report: dict[str, Any]) -> None:
        """A checkpoint version was restored or uploaded: the daemon records it (progress, `jobs show`)."""
        self.call("POST", "/checkpoint", json=report, give_up_after=30.0)

    def logs(self, chunks: list[dict[str, Any]]) -> None:
        self.call("POST", "/logs", json={"chunks": chunks}, give_up_after=30.0)

    def exit(self, exit_code: int, *, preempted: bool = False, message: str = "") -> None:
        self.call("POST", "/exit", json={"exit_code": exit_code, "preempted": preempted, "message": message})
