"""Find and stop the processes of a local "instance" through /proc.

A local instance is a process group started for the agent. Every process in it inherits the
environment variable MARKER_VAR=<instance id>, which plays the part a cloud tag plays: it lets
us find everything the instance started, even after a daemon crash lost the pid we recorded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

MARKER_VAR = "SPOTWISE_LOCAL_INSTANCE_ID"
CLUSTER_VAR = "SPOTWISE_LOCAL_CLUSTER"

_PROC = Path("/proc")


def _environ(pid: int) -> bytes:
    try:
        return (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return b""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may contain spaces)."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def is_alive(pid: int) -> bool:
    """True when the process exists and is not a zombie waiting to be reaped."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _all_pids() -> Iterator[int]:
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def pids_with_env(var: str, value: str) -> list[int]:
    """Live processes whose environment holds var=value."""
    needle = f"{var}={value}".encode()
    found = []
    for pid in _all_pids():
        env = _environ(pid)
        if env and needle in env.split(b"\0") and is_alive(pid):
            found.append(pid)
    return found


def instance_pids(instance_id: str) -> list[int]:
    return pids_with_env(MARKER_VAR, instance_id)


def live_instances() -> dict[str, list[int]]:
    """Instance id -> live pids, from ONE pass over /proc (listing N instances must not scan N times)."""
    prefix = f"{MARKER_VAR}=".encode()
    found: dict[str, list[int]] = {}
    for pid in _all_pids():
        for item in _environ(pid).split(b"\0"):
            if item.startswith(prefix):
                if is_alive(pid):
                    found.setdefault(item[len(prefix):].decode(errors="replace"), []).append(pid)
                break
    return found


def cluster_pids(cluster_id: str) -> list[int]:
    return pids_with_env(CLUSTER_VAR, cluster_id)


def kill_instance(instance_id: str, timeout: float = 5.0) -> None:
    """SIGKILL every process of the instance and wait until none is left (as a cloud terminate)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = instance_pids(instance_id)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)
