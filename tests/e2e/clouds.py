"""Helpers for the cloud e2e tests: a real daemon subprocess configured for one cloud, a look into
its database, and a stand-in for the on-instance agent (no agent runs on a fake cloud's VM)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from orchestrator.agentkey import load_agent_key
from orchestrator.cli.demo import free_port
from orchestrator.store.db import make_engine, make_session_factory, transaction
from orchestrator.store.tables import Attempt
from orchestrator.tokens import agent_token
from tests.e2e.conftest import Daemon
from tests.e2e.wheel import agent_wheel_env

T = TypeVar("T")


@contextmanager
def cloud_daemon(tmp_path: Path, providers: dict[str, Any], env: dict[str, str] | None = None) -> Iterator[Daemon]:
    """`spotwise serve` as a subprocess, configured the way an operator would: SPOTWISE_PROVIDERS JSON.

    The clouds are simulated on this machine (moto, the fake servers), so the daemon's loopback public_url is
    reachable from their "instances": the tests opt in to it explicitly, as a real deployment must not."""
    home = tmp_path / "home"
    home.mkdir()
    # the agent wheel built once per source tree, not by each test's daemon on its first launch (tests/e2e/wheel.py)
    daemon = Daemon(home=home, port=free_port(),
                    extra_env={"SPOTWISE_PROVIDERS": json.dumps(providers),
                               "SPOTWISE_ALLOW_LOOPBACK_PUBLIC_URL": "true", **agent_wheel_env(home), **(env or {})})
    try:
        daemon.start()
    except Exception:
        log = home / "daemon.log"
        raise AssertionError("daemon failed to start:\n" + (log.read_text()[-4000:] if log.exists() else "")) \
            from None
    try:
        yield daemon
    finally:
        daemon.stop()


def wait_until(probe: Callable[[], T | None], what: str, timeout: float = 20.0, every: float = 0.2) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


@dataclass(frozen=True)
class AttemptFacts:
    idempotency_key: str
    provider: str
    region: str
    zone: str
    instance_type: str
    agent_token: str


def attempt_facts(daemon: Daemon, attempt_id: str) -> AttemptFacts:
    """Read what the daemon recorded for an attempt, and derive its agent token from the daemon's secret.

    Read-only use of the daemon's SQLite file: the idempotency key is not exposed by the API, and the
    agent token is what the daemon put into the VM's start-up script for the real agent."""
    engine = make_engine(f"sqlite:///{daemon.home / 'spotwise.db'}")
    try:
        with transaction(make_session_factory(engine)) as session:
            row = session.get(Attempt, attempt_id)
            assert row is not None, f"attempt {attempt_id} not in the daemon's database"
            secret = load_agent_key(session, daemon.home)
            return AttemptFacts(row.idempotency_key, row.provider, row.region, row.zone, row.instance_type,
                                agent_token(secret, attempt_id))
    finally:
        engine.dispose()


def heartbeat_as_agent(daemon: Daemon, attempt_id: str, token: str) -> dict[str, Any]:
    """Stand in for the agent on a fake VM: one heartbeat with the attempt's own agent token."""
    response = httpx.post(f"{daemon.url}/v1/agent/attempts/{attempt_id}/heartbeat",
                          headers={"Authorization": f"Bearer {token}"}, json={"phase": "running"}, timeout=10)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def submit(daemon: Daemon, spec: Path) -> str:
    """`spotwise submit` through the real CLI; returns the job id."""
    return str(json.loads(daemon.cli("submit", str(spec), "-o", "json", check=True).stdout)["id"])


def launched_attempt(daemon: Daemon, job_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Wait until the job's first attempt is LAUNCHED; return (attempt view, its instance row)."""
    def probe() -> dict[str, Any] | None:
        job = daemon.api("GET", f"/v1/jobs/{job_id}")
        if job["state"] in ("FAILED", "CANCELLED", "WAITING_CAPACITY"):
            events = daemon.api("GET", f"/v1/jobs/{job_id}/events")["items"]
            raise AssertionError(f"job {job_id} is {job['state']}: {json.dumps(events)[-1500:]}")
        attempts = job.get("attempt_list") or []
        return attempts[0] if attempts and attempts[0]["state"] in ("LAUNCHED", "RUNNING") else None

    attempt = wait_until(probe, f"job {job_id} to get an instance", timeout=30)
    rows = [r for r in daemon.api("GET", "/v1/instances")["items"] if r["attempt_id"] == attempt["id"]]
    assert len(rows) == 1, rows
    return attempt, rows[0]
