"""The start-up script pins the daemon's wheel (name + sha256), verifies it, installs exactly it, and supervises
the agent. One test RUNS the rendered script against a real daemon on 127.0.0.1 (in-process uvicorn), with only
the cloud image stubbed by environment variables (boot dir, Python, pip target, notice watcher) and the EC2
metadata server faked over HTTP: the script downloads the wheel with the bootstrap token, and the agent trades
that token, with the instance identity document, for its agent token."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.api import create_app
from orchestrator.cli.demo import free_port
from orchestrator.config import Settings
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import create_attempt, record_instance
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import job_by_id, submit
from orchestrator.provisioning.agentwheel import pinned_wheel
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, BootstrapClaim
from orchestrator.store.types import utcnow
from orchestrator.tokens import bootstrap_token
from providers.base import AgentBootstrap, InstanceInfo, InstanceState, Offer
from providers.bootstrap import render_startup_script
from tests.agent.fake_metadata import fake_metadata_server

SHA = "ab" * 32
hostile = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_each_cloud_script_pins_and_verifies_the_wheel(cloud: str) -> None:
    boot = AgentBootstrap(api_url="https://spotwise.internal:8470", attempt_id="j-1-1", token="swa.j-1-1.mac",
                          wheel_name="spotwise-0.1.0-py3-none-any.whl", wheel_sha256=SHA,
                          pip_args="--index-url https://mirror.internal/simple")
    script = render_startup_script(boot, notice_source=cloud)
    assert f"want={SHA}" in script and "checksum mismatch" in script and 'if [ "$got" != "$want" ]' in script
    assert "/v1/agent/attempts/$SPOTWISE_ATTEMPT_ID/wheel" in script and "-H @" in script  # token not in argv
    assert "--index-url https://mirror.internal/simple" in script and "pip install --quiet spotwise" not in script
    assert f"SPOTWISE_NOTICE={cloud}" in script and "SPOTWISE_AGENT_RESTARTS=$restarts" in script
    for name in ("WANDB", "HF_TOKEN", "secret"):  # job secrets are never part of a bootstrap
        assert name not in script
    assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0


@settings(max_examples=80, deadline=None)
@given(name=hostile, sha=hostile, pip=hostile)
def test_hostile_wheel_fields_stay_data(name: str, sha: str, pip: str,
                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    try:
        import shlex

        shlex.split(pip)
    except ValueError:
        pip = ""  # pip_args is an admin setting parsed with shlex; unparsable ones are refused at render time
    scratch = tmp_path_factory.mktemp("boot")
    boot = AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id="a", token="t", wheel_name=name or "w",
                          wheel_sha256=sha or "x", pip_args=pip)
    script = render_startup_script(boot, work_root=str(scratch / "w"))
    head = script.partition("\nfetch() {")[0] + '\nprintf "%s\\0%s" "$wheel" "$want"\n'
    out = subprocess.run(["sh", "-c", head], capture_output=True, check=True,
                         env={**os.environ, "SPOTWISE_BOOT_DIR": str(scratch)}).stdout
    assert out.split(b"\0") == [f"{scratch}/{name or 'w'}".encode(), (sha or "x").encode()]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    """A real daemon API (no loops: nothing else touches the attempt) on a free port."""
    with serve(Settings(home=tmp_path / "home")) as running:
        yield running


@contextmanager
def serve(settings: Settings) -> Iterator[tuple[Runtime, str]]:
    """The daemon's API for `settings` under uvicorn on a free port; (runtime, URL)."""
    rt = build_runtime(settings, with_providers=False)
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


INSTANCE = "i-0b00751234567890a"


def _attempt(rt: Runtime, run: str) -> tuple[str, str]:
    """A job with an attempt whose instance is recorded, as the launcher leaves it once the cloud answered."""
    offer = Offer(cloud="aws", region="us-east-1", zone="us-east-1a", instance_type="g5.xlarge", gpu_model="A10G",
                  gpu_count=1, vcpus=4, memory_gb=16, spot=True, price_per_hour=0.5, price_fetched_at=utcnow())
    with transaction(rt.sessions) as s:
        job = submit(s, JobSpec(name="boot", run=run))
        attempt = create_attempt(s, job, offer)
        T.start_provisioning(s, job, attempt.id, "test")
        record_instance(s, attempt, InstanceInfo(
            id=INSTANCE, uid=INSTANCE, provider="aws", region="us-east-1", zone="us-east-1a",
            instance_type="g5.xlarge", spot=True, state=InstanceState.RUNNING, price_per_hour=0.5,
            launched_at=utcnow()))
        return job.id, attempt.id


def _run_script(script: str, scratch: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(scratch), "SPOTWISE_BOOT_DIR": str(scratch / "boot"),
           "SPOTWISE_PYTHON": sys.executable, "SPOTWISE_STUB_NOTICE": "",
           "SPOTWISE_STUB_PIP_ARGS": f"--no-deps --no-index --target {scratch / 'site'}",
           "PYTHONPATH": str(scratch / "site"), **extra}
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          cwd=scratch)


@pytest.mark.own_agent_wheel  # the daemon builds its own wheel on first use (no SPOTWISE_AGENT_WHEEL), serves it
def test_rendered_script_installs_the_served_wheel_and_the_agent_runs_the_job(
        served: tuple[Runtime, str], tmp_path: Path) -> None:
    rt, url = served
    job_id, attempt_id = _attempt(rt, 'python3 -c "import orchestrator; print(orchestrator.__file__)" || '
                                      '"$SPOTWISE_PYTHON" -c "import orchestrator; print(orchestrator.__file__)"')
    boot = AgentBootstrap(api_url=url, attempt_id=attempt_id, token=bootstrap_token(rt.agent_secret, attempt_id),
                          **pinned_wheel(rt.settings, "aws"))
    assert boot.wheel_sha256 and boot.wheel_name.startswith("spotwise-")
    script = render_startup_script(boot, notice_source="aws", work_root=str(tmp_path / "work"))
    with fake_metadata_server() as (imds, state):
        state.set_identity("aws", INSTANCE, region="us-east-1", zone="us-east-1a")
        done = _run_script(script, tmp_path, SPOTWISE_STUB_IDENTITY=f"aws:{imds}")
    log = (tmp_path / "boot" / "agent.log").read_text()
    assert done.returncode == 0, done.stderr + log
    assert list((tmp_path / "site").glob("spotwise-*.dist-info"))  # exactly the served wheel, installed
    with transaction(rt.sessions) as s:
        assert job_by_id(s, job_id).state == "SUCCEEDED"
    logs = httpx.get(f"{url}/v1/jobs/{job_id}/logs",
                     headers={"Authorization": f"Bearer {_admin(rt)}"}).json()["items"]
    assert str(tmp_path / "site" / "orchestrator") in "".join(i["data"] for i in logs)  # the agent ran from it
    assert not (tmp_path / "boot" / "auth-header").exists()
    with transaction(rt.sessions) as s:  # the agent exchanged its bootstrap token, once, as this instance
        claim = s.get(BootstrapClaim, (attempt_id, 0))
        assert claim is not None and claim.instance_id == INSTANCE and claim.refused == 0
        assert s.get(Attempt, attempt_id) is not None
    assert (tmp_path / "boot" / "agent-claim").stat().st_mode & 0o777 == 0o600


def test_checksum_mismatch_installs_nothing(served: tuple[Runtime, str], tmp_path: Path) -> None:
    rt, url = served
    _, attempt_id = _attempt(rt, "true")
    pinned = pinned_wheel(rt.settings, "aws")
    boot = AgentBootstrap(api_url=url, attempt_id=attempt_id, token=bootstrap_token(rt.agent_secret, attempt_id),
                          wheel_name=str(pinned["wheel_name"]), wheel_sha256="0" * 64)
    done = _run_script(render_startup_script(boot, work_root=str(tmp_path / "work")), tmp_path)
    assert done.returncode == 1 and "checksum mismatch" in (tmp_path / "boot" / "agent.log").read_text()
    assert not (tmp_path / "site").exists()


def test_supervisor_restarts_a_crashed_agent_and_gives_up_after_max(tmp_path: Path) -> None:
    fake_python = tmp_path / "python"  # stands in for the image's Python: the agent "crashes" twice
    fake_python.write_text('#!/bin/sh\necho "$SPOTWISE_AGENT_RESTARTS" >>"$SPOTWISE_BOOT_DIR/runs"\n'
                           '[ "$SPOTWISE_AGENT_RESTARTS" -ge "$CRASHES" ] && exit 0\nexit 3\n')
    fake_python.chmod(0o755)
    boot = AgentBootstrap(api_url="http://127.0.0.1:9", attempt_id="a", token="t", max_restarts=3)
    script = render_startup_script(boot, install_command="true", work_root=str(tmp_path / "w")).replace(
        "sleep 2", "sleep 0")
    ok = _run_script(script, tmp_path, SPOTWISE_PYTHON=str(fake_python), CRASHES="2")
    assert ok.returncode == 0 and (tmp_path / "boot" / "runs").read_text().split() == ["0", "1", "2"]
    assert "agent exited with 3; restart 1 of 3" in (tmp_path / "boot" / "agent.log").read_text()
    (tmp_path / "boot" / "runs").unlink()
    gave_up = _run_script(script, tmp_path, SPOTWISE_PYTHON=str(fake_python), CRASHES="99")
    assert gave_up.returncode == 3 and (tmp_path / "boot" / "runs").read_text().split() == ["0", "1", "2", "3"]


def _admin(rt: Runtime) -> str:
    from orchestrator.tokens import create_api_token

    with transaction(rt.sessions) as s:
        return create_api_token(s, role="admin", team=None)[1]
