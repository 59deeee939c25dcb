"""Helpers for the cloud e2e tests: a real daemon subprocess configured for the clouds, a look into
its database, and a stand-in for the on-instance agent (no agent runs on a fake cloud's VM): it reads the
bootstrap token from the instance's start-up script and trades it with the agent's own exchange code."""

from __future__ import annotations

import functools
import json
import secrets
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from orchestrator.agent.session import exchange
from orchestrator.agentkey import load_agent_key
from orchestrator.cli.demo import free_port
from orchestrator.store.db import make_engine, make_session_factory, transaction
from orchestrator.store.tables import Attempt
from orchestrator.tokens import AGENT_PREFIX, agent_token
from tests.agent.cloud_keys import default_keys, pem
from tests.agent.fake_jwks import JwksState, start_jwks_server
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


# How an operator configures each cloud against this machine's stand-ins (moto behind MotoFront, the fake
# Compute Engine, the fake ARM server): one place, so the one-cloud tests and the three-cloud one agree.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
# Environment that would steer DefaultAzureCredential away from the managed identity the fake serves.
AZURE_CREDENTIAL_ENV = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_CLIENT_CERTIFICATE_PATH",
                        "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT",
                        "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT")


def aws_config(front_url: str, region: str, ami: str) -> dict[str, Any]:
    """With the test "AWS certificate" the fake metadata servers sign identity documents with, so the daemon
    verifies each agent's signature as it would AWS's (tests/agent/cloud_keys.py)."""
    return {"regions": [region], "endpoint_url": front_url, "ami": ami, "max_attempts": 2,
            "connect_timeout": 2, "read_timeout": 20,
            "identity_certificates": {"default": pem(default_keys().aws_cert)}}


@functools.cache
def _jwks_url() -> str:
    """One fake Google JWKS for the test process, serving the key the fake metadata servers sign tokens with."""
    keys = default_keys()
    return start_jwks_server(JwksState(keys={keys.gcp_kid: keys.gcp_key}))[0]  # lives as long as the process


def gcp_config(endpoint: str, project: str) -> dict[str, Any]:
    return {"project": project, "credentials": "anonymous", "endpoint": endpoint, "billing_endpoint": endpoint,
            "operation_timeout_s": 10.0, "request_timeout_s": 10.0, "identity_jwks_url": _jwks_url()}


def azure_config(arm_url: str, subscription: str, resource_group: str, subnets: Any) -> dict[str, Any]:
    """No ssh_public_key, as a first config often has none: the daemon generates one in its home."""
    return {"subscription_id": subscription, "resource_group": resource_group,
            "locations": ["eastus", "westus", "westeurope"], "subnet_id": subnets, "base_url": arm_url,
            "prices_url": f"{arm_url}/api/retail/prices", "polling_interval": 0,
            "identity_ca_certificates": [pem(default_keys().azure_ca)]}


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


def bootstrap_of(script: str) -> str:
    """The bootstrap token a start-up script exports: what anyone who can read the instance's metadata gets."""
    for line in script.splitlines():
        if line.startswith("export SPOTWISE_BOOTSTRAP_TOKEN="):
            return shlex.split(line.partition("=")[2])[0]
    raise AssertionError("the start-up script exports no SPOTWISE_BOOTSTRAP_TOKEN")


def metadata_grants_nothing(daemon: Daemon, attempt_id: str, script: str) -> str:
    """Assert the start-up script holds no token the agent API accepts; return its bootstrap token.

    The attempt's agent token is not in it (nor any agent token), and its bootstrap token, presented to the agent
    API as a bearer, is refused."""
    assert attempt_facts(daemon, attempt_id).agent_token not in script and AGENT_PREFIX not in script
    boot = bootstrap_of(script)
    for path, body in (("/spec", None), ("/heartbeat", {"phase": "running"})):
        answer = httpx.request("GET" if body is None else "POST", f"{daemon.url}/v1/agent/attempts/{attempt_id}{path}",
                               headers={"Authorization": f"Bearer {boot}"}, json=body, timeout=10)
        assert answer.status_code in (401, 403), f"{path}: {answer.status_code} {answer.text}"
    return boot


def exchange_as_agent(daemon: Daemon, script: str, identity: str) -> str:
    """Stand in for the agent's start: its own exchange code, its identity from the fake metadata server at
    `identity` (e.g. "gcp:http://127.0.0.1:PORT"). Returns the agent token the daemon handed out."""
    claim = secrets.token_urlsafe(32)
    return exchange(daemon.url, bootstrap_of(script), claim, identity, give_up_after=30)


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
