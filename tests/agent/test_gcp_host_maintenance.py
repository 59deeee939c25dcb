"""The real agent on a "GCE VM" (this machine, with the fake metadata server) against a real daemon API: host
maintenance that stops the VM is handled like a preemption, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from orchestrator.api import create_app
from orchestrator.cli.demo import free_port
from orchestrator.config import Settings
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import create_attempt
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt
from orchestrator.store.types import utcnow
from orchestrator.tokens import agent_token
from providers.base import Offer
from tests.agent.fake_metadata import fake_metadata_server

ROOT = Path(__file__).resolve().parents[2]
# The job: say when it starts, and on SIGTERM write a checkpoint and exit, as a checkpointing trainer does.
JOB = ('trap \'echo saved > "$SPOTWISE_CHECKPOINT_DIR/ckpt"; echo checkpointed; exit 0\' TERM; echo started; '
       'while true; do sleep 0.1; done')


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    """A real daemon API (no loops: nothing else touches the attempt) on a free port."""
    rt = build_runtime(Settings(home=tmp_path / "home"), with_providers=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield rt, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    rt.close()


def _attempt(rt: Runtime) -> str:
    offer = Offer(cloud="gcp", region="us-central1", zone="us-central1-a", instance_type="g2-standard-4",
                  gpu_model="L4", gpu_count=1, vcpus=4, memory_gb=16, spot=False, price_per_hour=0.7,
                  price_fetched_at=utcnow())
    with transaction(rt.sessions) as s:
        job = submit(s, JobSpec(name="maint", run=JOB))
        attempt = create_attempt(s, job, offer)
        T.start_provisioning(s, job, attempt.id, "test")
        return attempt.id


def test_terminate_on_host_maintenance_checkpoints_and_ends_the_attempt_preempted(
        served: tuple[Runtime, str], tmp_path: Path) -> None:
    rt, url = served
    attempt_id = _attempt(rt)
    with fake_metadata_server() as (metadata, state):
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "SPOTWISE_URL": url,
               "SPOTWISE_AGENT_TOKEN": agent_token(rt.agent_secret, attempt_id), "SPOTWISE_ATTEMPT_ID": attempt_id,
               "SPOTWISE_WORK_ROOT": str(tmp_path / "work"), "SPOTWISE_NOTICE": f"gcp:{metadata}"}
        agent = subprocess.Popen([sys.executable, "-m", "orchestrator.agent"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while not list((tmp_path / "work").rglob("*")) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2)  # the job is running and the watchers are polling
            state.set_gcp_maintenance("TERMINATE_ON_HOST_MAINTENANCE")
            out, _ = agent.communicate(timeout=60)
        finally:
            agent.kill()
    assert "preemption notice: host-maintenance" in out, out
    assert list((tmp_path / "work").rglob("ckpt")), out  # the job got its stop signal and checkpointed
    with transaction(rt.sessions) as s:
        attempt_state = s.scalar(select(Attempt.state).where(Attempt.id == attempt_id))
    assert attempt_state == "PREEMPTED", out
