"""`spotwise.Client` against a real daemon (SQLite + the local provider): submit a dict and a YAML file, wait
with a callback through a real spot preemption, logs, list, show, cancel, costs, offers, and each typed error
with the API's code, status and message."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrator.cli.demo import free_port
from spotwise import (
    Client,
    Conflict,
    Invalid,
    NotFound,
    RateLimited,
    SpotwiseError,
    Unauthorized,
    Unreachable,
    UsageError,
    WaitEvent,
    WaitTimeout,
)
from tests.e2e.conftest import Daemon, running_daemon, write

SPOT = """
name: client-spot
team: client
resources: {accelerators: "T4:1", spot: true}
checkpoint: {dir: /ckpt, interval: 1s}
run: |
  trap 'echo got SIGTERM; exit 143' TERM
  echo "step 3" > $SPOTWISE_CHECKPOINT_DIR/state
  if [ "$SPOTWISE_ATTEMPT" = 1 ]; then sleep 120 & wait; fi
  echo finished on attempt $SPOTWISE_ATTEMPT
"""
HELLO = {"name": "client-hello", "team": "client", "run": "echo hello from the client; echo oops >&2",
         "resources": {"accelerators": "T4:1"}}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the module: each test makes its own jobs, and starting a daemon is the slow part."""
    with running_daemon(tmp_path_factory.mktemp("client") / "home") as d:
        yield d


@pytest.fixture
def client(daemon: Daemon) -> Client:
    return Client(daemon.url, daemon.token)


def _until(check: Any, what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_submit_a_yaml_file_and_wait_through_a_preemption_with_a_callback(client: Client, tmp_path: Path) -> None:
    job = client.submit(write(tmp_path / "spot.yaml", SPOT))
    assert job["name"] == "client-spot" and job["team"] == "client"
    events: list[WaitEvent] = []
    final: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: final.update(client.wait(job["id"], events.append, poll=0.3,
                                                                      timeout=240)))
    waiter.start()
    try:
        running = _until(lambda: (j := client.job(job["id"]))["state"] == "RUNNING" and j, "RUNNING")
        time.sleep(1.5)  # a checkpoint is uploaded (interval 1s)
        first = running["attempt_list"][0]
        client.post(f"/v1/chaos/instances/{first['instance_id']}/preempt", {"grace_seconds": 2})
        waiter.join(timeout=240)
        assert not waiter.is_alive(), "wait() did not return"
    finally:
        if waiter.is_alive():
            client.cancel(job["id"])
    assert final["state"] == "SUCCEEDED", final
    kinds = [e.kind for e in events]
    story = [e for e in events if e.kind not in ("snapshot", "log", "waiting")]  # a requeued job may wait a poll
    assert [e.kind for e in story] == ["attempt_started", "preempted", "attempt_restarted", "finished"], story
    started, preempted, restarted, finished = story
    assert started.attempt is not None and started.attempt["instance_id"] == first["instance_id"]
    assert started.text.startswith(f"attempt 1 started on instance {first['instance_id']}")
    assert preempted.attempt is not None and preempted.attempt["state"] == "PREEMPTED"
    assert preempted.text.startswith(f"attempt 1 PREEMPTED in {first['zone']}")
    assert restarted.attempt is not None and restarted.attempt["resumed_from"]
    assert f"resuming from checkpoint {restarted.attempt['resumed_from']}" in restarted.text
    assert finished.job["state"] == "SUCCEEDED" and kinds[-1] == "finished"
    output = "".join(e.data or "" for e in events if e.kind == "log")
    assert "got SIGTERM" in output and "finished on attempt 2" in output
    assert kinds.count("snapshot") >= 2  # one every poll: what a progress bar reads
    assert [e["kind"] for e in client.events(job["id"])]  # the job's own event log is there too


def test_submit_a_dict_wait_shows_plain_progress_and_logs_list_show(client: Client,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    job = client.submit(HELLO)
    final = client.wait(job["id"], poll=0.3, timeout=120)  # no callback: plain lines on stdout
    assert final["state"] == "SUCCEEDED" and final["exit_code"] == 0
    printed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("attempt 1 started on instance ") for line in printed), printed
    assert "  stdout hello from the client" in printed and "  stderr oops" in printed
    assert printed[-1].startswith(f"job {job['id']} SUCCEEDED, exit code 0: cost $")
    chunks = list(client.logs(job["id"]))
    assert "".join(c["data"] for c in chunks if c["stream"] == "stdout") == "hello from the client\n"
    assert {c["stream"] for c in chunks} == {"stdout", "stderr"}
    assert list(client.logs(job["id"], follow=True)) == chunks  # the job ended: follow returns at once
    page = client.list_jobs(state="succeeded", limit=500)
    assert job["id"] in [j["id"] for j in page["items"]] and "next_before" in page
    assert all(j["state"] == "SUCCEEDED" for j in page["items"])
    shown = client.job(job["id"])
    assert shown["attempt_list"][0]["state"] == "SUCCEEDED" and shown["cost_usd"] >= 0


def test_cancel_then_cancel_again_is_a_conflict(client: Client) -> None:
    job = client.submit({**HELLO, "name": "client-long", "run": "sleep 600"})
    assert client.cancel(job["id"])["state"] == "CANCELLED"
    with pytest.raises(Conflict) as refused:
        client.cancel(job["id"])
    assert refused.value.status == 409 and refused.value.code == "conflict"
    assert "already CANCELLED" in refused.value.message
    with pytest.raises(WaitTimeout) as late:  # still running when the time is up: the error has its snapshot
        client.wait(client.submit({**HELLO, "name": "client-slow", "run": "sleep 600"})["id"], timeout=0.5,
                    progress=False)
    assert late.value.job["state"] not in ("SUCCEEDED", "FAILED", "CANCELLED")
    client.cancel(late.value.job["id"])


def test_costs_and_offers(client: Client, daemon: Daemon) -> None:
    job = client.submit({**HELLO, "name": "client-costs", "run": "sleep 3; echo done"})  # runs long enough to cost
    client.wait(job["id"], progress=False, timeout=120)
    # the ledger accrues on its own loop (every 10 s by default): the ended job's row comes with its next pass
    costs = _until(lambda: (c := client.costs(by="job")) and job["id"] in [r["job"] for r in c["items"]] and c,
                   "the job's cost row", timeout=120)
    assert costs["by"] == "job" and costs.keys() == daemon.api("GET", "/v1/costs", params={"by": "job"}).keys()
    assert client.costs(by="team", since="2020-01-01T00:00Z")["total_usd"] >= 0
    offers = client.offers(gpu="T4:1", spot=True, limit=3)
    assert 0 < len(offers["items"]) <= 3 and all(o["spot"] and o["gpu_model"] == "T4" for o in offers["items"])
    prices = [o["price_per_hour"] for o in offers["items"]]
    assert prices == sorted(prices)
    assert {o["cloud"] for o in client.offers(cloud="local", limit=50)["items"]} == {"local"}
    with pytest.raises(Invalid) as bad_gpu:
        client.offers(gpu="T5:1")
    assert bad_gpu.value.status == 422 and bad_gpu.value.code == "invalid_gpu"


def test_typed_errors_carry_the_api_code_status_and_message(client: Client, daemon: Daemon,
                                                             tmp_path: Path) -> None:
    bad = {"name": "client-bad", "run": "true", "resources": {"accelerators": "T4:0"}, "colour": "red"}
    raw = httpx.post(daemon.url + "/v1/jobs", json=bad, headers={"Authorization": f"Bearer {daemon.token}"})
    assert raw.status_code == 422
    with pytest.raises(Invalid) as invalid:
        client.submit(bad)
    assert invalid.value.status == 422 and invalid.value.code == raw.json()["error"]["code"] == "invalid_spec"
    assert invalid.value.message == raw.json()["error"]["message"] == str(invalid.value)
    assert invalid.value.details == raw.json()["error"]["details"] and "unknown field 'colour'" in str(invalid.value)

    with pytest.raises(NotFound) as missing:
        client.job("j-doesnotexist")
    assert missing.value.status == 404 and missing.value.code == "not_found"

    with pytest.raises(Unauthorized) as denied:
        Client(daemon.url, "sw_not-a-real-token").list_jobs()
    assert denied.value.status == 401 and denied.value.code and denied.value.message

    with pytest.raises(Invalid) as local:  # a spec file is checked here first: no request, no status
        client.submit(write(tmp_path / "bad.yaml", "name: x\nrun: 'true'\nresources: {accelerators: T4:1}\nnope: 1\n"))
    assert local.value.status is None and local.value.code == "invalid_spec" and local.value.details

    with pytest.raises(UsageError):  # refused before anything is sent: no URL games with typed ids
        client.job("a/b")
    with pytest.raises(UsageError):
        client.logs("")  # at the call, not at the first chunk
    with pytest.raises(UsageError, match="cannot send this request"):
        client.submit({"name": "x", "run": "true", "not_json": datetime.now(UTC)})
    with pytest.raises(Unreachable) as down:
        Client(f"http://127.0.0.1:{free_port()}", "t").list_jobs()
    assert down.value.status is None and "cannot reach the Spotwise daemon" in down.value.message
    assert all(issubclass(e, SpotwiseError) for e in (Invalid, NotFound, Unauthorized, Unreachable, UsageError))


def test_url_and_token_come_from_the_environment_then_the_config_file(daemon: Daemon, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SPOTWISE_URL", "SPOTWISE_TOKEN", "SPOTWISE_PORT", "SPOTWISE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    config = write(tmp_path / "config.yaml", f"url: {daemon.url}\ntoken: {daemon.token}\n")
    monkeypatch.setenv("SPOTWISE_CONFIG", str(config))
    monkeypatch.setenv("SPOTWISE_HOME", str(tmp_path / "home"))
    assert Client().url == daemon.url and "items" in Client().list_jobs(limit=1)
    monkeypatch.setenv("SPOTWISE_TOKEN", "sw_wrong")  # the environment wins over the file
    with pytest.raises(Unauthorized):
        Client().list_jobs(limit=1)
    assert Client(token=daemon.token).list_jobs(limit=1)["items"] is not None  # an argument wins over both


def test_rate_limited_carries_retry_after(tmp_path: Path) -> None:
    """A 429 from the API's rate limiter (in process: a real app and runtime, a one-request burst)."""
    from orchestrator.api import create_app
    from orchestrator.config import Settings
    from orchestrator.runtime import build_runtime
    from orchestrator.store.db import transaction
    from orchestrator.tokens import create_api_token

    rt = build_runtime(Settings(home=tmp_path, providers={}, api_rate_limit_per_second=0.01,
                                api_rate_limit_burst=1), with_providers=False)
    try:
        with transaction(rt.sessions) as s:
            _, token = create_api_token(s, role="admin", team=None, name="test")
        http = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})
        api = Client("http://testserver", token, transport=http)
        api.list_jobs()
        with pytest.raises(RateLimited) as limited:
            api.list_jobs()
        assert limited.value.status == 429 and limited.value.code == "rate_limited"
        assert limited.value.retry_after is not None and limited.value.retry_after >= 1
    finally:
        rt.close()
