"""Expected total cost through the daemon: the checkpoint bucket's region from S3 (moto over HTTP), the latest
checkpoint's size from the agent's report, `/v1/offers?for_job=` and `spotwise offers --for` with the breakdown on
both sides of the boundary, the dry run's breakdown, bad `inputs` refused, and a measured transfer rate replacing
the default after N samples reported through the agent endpoint."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from orchestrator.api import create_app
from orchestrator.catalog.price_store import store_offers
from orchestrator.cli import app as cli_app
from orchestrator.cli.client import CliError
from orchestrator.client import Client, NotFound
from orchestrator.config import Settings
from orchestrator.jobs.attempts import create_attempt
from orchestrator.jobs.queue import job_by_id
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import StoreRegion
from orchestrator.tokens import agent_token, create_api_token
from providers.base import Offer

NEAR, FAR = 3.0, 2.0  # $/h: aws us-east-1 beside the checkpoint, gcp us-central1 across clouds
CKPT_BYTES = 100 * 10**9
STARTUP_H = 120 / 3600  # changeover_seconds, the start-up every offer pays


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL=endpoint)
    import boto3

    deadline = time.monotonic() + 30
    while True:
        try:
            client = boto3.client("s3", region_name="us-east-1")
            client.create_bucket(Bucket="ckpt-east")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    boto3.client("s3", region_name="us-west-2").create_bucket(
        Bucket="data-west", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _offer(cloud: str, region: str, price: float) -> Offer:
    return Offer(cloud, region, f"{region}-a", f"{cloud}-h100-8", "H100", 8, 96, 1000, True, price,
                 datetime.now(UTC), gpu_memory_gb=80)


@pytest.fixture
def daemon(tmp_path: Path, s3: str) -> Iterator[tuple[Runtime, TestClient, str]]:
    settings = Settings(home=tmp_path, providers={"aws": {}, "gcp": {}}, checkpoint_store="s3://ckpt-east/runs",
                        transfer={"learn_after_samples": 3})
    rt = build_runtime(settings, with_providers=False)
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None, name="test")
        store_offers(s, "aws", "catalog", [_offer("aws", "us-east-1", NEAR)])
        store_offers(s, "gcp", "catalog", [_offer("gcp", "us-central1", FAR)])
    yield rt, TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"}), token
    rt.close()


def _submit(http: TestClient, hours: float, **extra: Any) -> str:
    spec = {"name": "train", "run": "python train.py", "resources": {"accelerators": "H100:8", "spot": True},
            "estimated_runtime": f"{hours}h", **extra}
    answer = http.post("/v1/jobs", json=spec)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _report(rt: Runtime, http: TestClient, job_id: str, cloud: str, region: str, **report: Any) -> dict[str, Any]:
    """An attempt of the job on (cloud, region) and one checkpoint report through the agent's endpoint."""
    with transaction(rt.sessions) as s:
        job = job_by_id(s, job_id)
        attempt = create_attempt(s, job, _offer(cloud, region, 1.0))
        attempt_id = attempt.id
        job.attempts_count = attempt.number  # as T.start_provisioning counts it; the job's state does not matter
    answer = http.post(f"/v1/agent/attempts/{attempt_id}/checkpoint", json=report,
                       headers={"Authorization": f"Bearer {agent_token(rt.agent_secret, attempt_id)}"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _expected(price: float, hours: float, mb_s: float, egress_per_gb: float) -> float:
    transfer_h = CKPT_BYTES / (mb_s * 1e6) / 3600
    return price * (hours + transfer_h + STARTUP_H) + CKPT_BYTES / 1e9 * egress_per_gb


# Boundary by hand: 3 (H + 400 s + 120 s) = 2 (H + 1000 s + 120 s) + 100 GB x $0.09  ->  H = 9.189 h.
@pytest.mark.parametrize("hours, winner", [(9.0, "aws"), (9.4, "gcp")])
def test_offers_for_a_job_rank_by_expected_total_on_both_sides_of_the_boundary(
        daemon: tuple[Runtime, TestClient, str], hours: float, winner: str) -> None:
    rt, http, _ = daemon
    job_id = _submit(http, hours)
    _report(rt, http, job_id, "aws", "us-east-1", event="uploaded", version="000001", files=3, bytes=CKPT_BYTES)
    answer = http.get("/v1/offers", params={"for_job": job_id})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["data"] == [{"what": "checkpoint", "cloud": "aws", "region": "us-east-1", "bytes": CKPT_BYTES}]
    with transaction(rt.sessions) as s:  # asked of S3 once, then kept
        assert s.get(StoreRegion, "s3://ckpt-east").region == "us-east-1"
    by_cloud = {o["cloud"]: o for o in data["items"]}
    assert data["items"][0]["cloud"] == winner
    near, far = by_cloud["aws"]["total"], by_cloud["gcp"]["total"]
    assert near["expected_total_usd"] == pytest.approx(_expected(NEAR, hours, 250, 0.0), abs=1e-3)
    assert far["expected_total_usd"] == pytest.approx(_expected(FAR, hours, 100, 0.09), abs=1e-3)
    assert (far["transfer_gb"], far["egress_usd"], near["egress_usd"]) == (100.0, 9.0, 0.0)
    assert far["transfer_minutes"] == pytest.approx(1000 / 60, abs=0.01)
    assert ("beats the cheaper $2.0000/h gcp" in data["winner_reason"]) == (winner == "aws")


def test_the_cli_shows_the_breakdown_and_why_the_winner_won(daemon: tuple[Runtime, TestClient, str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rt, http, token = daemon
    job_id = _submit(http, 2.0)
    _report(rt, http, job_id, "aws", "us-east-1", event="uploaded", version="000001", files=3, bytes=CKPT_BYTES)

    def client(_settings: Settings, **_: object) -> Client:
        return Client("http://testserver", token, transport=http)

    monkeypatch.setattr(Client, "from_settings", staticmethod(client))
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    out = runner.invoke(cli_app, ["offers", "--for", job_id])
    assert out.exit_code == 0, out.output
    assert "EXPECTED TOTAL $" in out.output and "EGRESS $" in out.output and "TRANSFER MIN" in out.output
    assert "winner: lowest expected total" in out.output and "beats the cheaper $2.0000/h gcp" in out.output
    assert "checkpoint 100.0 GB in aws us-east-1" in out.output
    mixed = runner.invoke(cli_app, ["offers", "--for", job_id, "--gpu", "A100:1"])
    assert isinstance(mixed.exception, CliError) and mixed.exception.exit_code == 2  # main() prints "error: ..."
    assert "own resources" in str(mixed.exception)
    missing = runner.invoke(cli_app, ["offers", "--for", "nosuchjob"])
    assert isinstance(missing.exception, NotFound) and "not found" in str(missing.exception)  # main() prints it

    spec = Path(rt.settings.home) / "job.yaml"
    spec.write_text("name: prep\nrun: python prep.py\nestimated_runtime: 48h\nresources:\n  accelerators: H100:8\n"
                    "  spot: true\ninputs:\n  s3://data-west/imagenet: 1TB\n")
    dry = runner.invoke(cli_app, ["submit", str(spec), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "expected total cost to finish" in dry.output and "winner:" in dry.output
    answer = http.post("/v1/jobs", params={"dry_run": "true"}, json={
        "name": "prep", "run": "x", "estimated_runtime": "48h", "resources": {"accelerators": "H100:8", "spot": True},
        "inputs": {"s3://data-west/imagenet": "1TB"}})
    offers = answer.json()["offers"]
    by_cloud = {o["cloud"]: o["total"] for o in offers}
    assert by_cloud["aws"]["egress_usd"] == pytest.approx(1000 * 0.02)  # us-west-2 -> us-east-1, same cloud
    assert by_cloud["gcp"]["egress_usd"] == pytest.approx(1000 * 0.09)  # us-west-2 -> gcp: internet

    spec.write_text("name: prep\nrun: x\ninputs:\n  s3://data-west/imagenet: lots\n")
    bad = runner.invoke(cli_app, ["submit", str(spec)])
    assert bad.exit_code != 0 and "is not a size" in str(bad.exception or bad.output)


@pytest.mark.parametrize("inputs, message", [
    ({"s3://data-west/x": "1.2 parsecs"}, "is not a size"),
    ({"https://example.com/x": "1GB"}, "is not a bucket URL"),
    ({"s3:///x": "1GB"}, "names no bucket"),
    ({"s3://data-west/x": -5}, "more than 0 bytes"),
])
def test_bad_inputs_are_a_422_naming_the_field(daemon: tuple[Runtime, TestClient, str], inputs: dict[str, Any],
                                               message: str) -> None:
    _, http, _ = daemon
    answer = http.post("/v1/jobs", json={"name": "x", "run": "x", "inputs": inputs})
    assert answer.status_code == 422, answer.text
    assert message in json.dumps(answer.json()) and "inputs" in json.dumps(answer.json())


def test_a_measured_rate_replaces_the_default_after_n_samples(daemon: tuple[Runtime, TestClient, str]) -> None:
    """learn_after_samples is 3 here: two restores on aws us-east-1 -> gcp us-central1 leave the default 100 MB/s;
    the third (each 10 GB in 10 s: 1000 MB/s) makes the path's measured rate the one used."""
    rt, http, _ = daemon
    job_id = _submit(http, 5.0)
    _report(rt, http, job_id, "aws", "us-east-1", event="uploaded", version="000001", files=3, bytes=CKPT_BYTES)

    def far() -> dict[str, Any]:
        items = http.get("/v1/offers", params={"for_job": job_id}).json()["items"]
        return dict(next(o for o in items if o["cloud"] == "gcp")["total"])

    for n in range(3):
        assert far()["transfer_rate_source"] == "default"
        assert far()["transfer_minutes"] == pytest.approx(1000 / 60, abs=0.01)
        sampled = _report(rt, http, job_id, "gcp", "us-central1", event="restored", version="000001", files=3,
                          bytes=CKPT_BYTES, transferred_bytes=10 * 10**9, seconds=10.0)
        assert sampled["transfer_sampled"] is True, n
    assert far()["transfer_rate_source"] == "measured"
    assert far()["transfer_minutes"] == pytest.approx(100 / 60, abs=0.01)  # 100 GB at 1000 MB/s
    learned = http.get("/v1/offers", params={"for_job": job_id}).json()["learned_rates"]
    assert learned == [{"store": "aws us-east-1", "instances": "gcp us-central1", "mb_per_s": 1000.0, "samples": 3,
                        "used": True}]


def test_a_bucket_s3_cannot_locate_is_priced_as_another_region_and_fails_nothing(
        daemon: tuple[Runtime, TestClient, str]) -> None:
    rt, http, _ = daemon
    job_id = _submit(http, 9.0, checkpoint={"store": "s3://no-such-bucket/ckpt"})
    _report(rt, http, job_id, "aws", "us-east-1", event="uploaded", version="000001", files=3, bytes=CKPT_BYTES)
    data = http.get("/v1/offers", params={"for_job": job_id}).json()
    assert data["data"] == [{"what": "checkpoint", "cloud": "aws", "region": None, "bytes": CKPT_BYTES}]
    by_cloud = {o["cloud"]: o["total"] for o in data["items"]}
    assert by_cloud["aws"]["egress_usd"] == pytest.approx(100 * 0.02)  # unknown region: cross-region, not free
    assert by_cloud["gcp"]["egress_usd"] == pytest.approx(100 * 0.09)
    with transaction(rt.sessions) as s:
        assert s.get(StoreRegion, "s3://no-such-bucket") is None  # a failure is not kept as an answer
