"""`spotwise providers check --launch` against a real daemon configured for AWS (moto behind the e2e front), and
the preflight `spotwise serve` runs at start: failing rows are printed with their fix and the exit code is 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.e2e.clouds import cloud_daemon, wait_until
from tests.e2e.conftest import Daemon
from tests.fakes.moto_relay import MotoFront
from tests.providers.aws import conftest as aws_fixtures
from tests.providers.aws.conftest import AMI, REGION

moto_endpoint = aws_fixtures.moto_endpoint
endpoint = aws_fixtures.endpoint
ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
       "AWS_DEFAULT_REGION": REGION}


@pytest.fixture
def front(endpoint: str) -> Iterator[MotoFront]:
    server = MotoFront(endpoint).start()
    yield server
    server.stop()


@pytest.fixture
def image(endpoint: str) -> str:
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    return str(ec2.register_image(Name="spotwise-gpu", RootDeviceName="/dev/sda1", Architecture="x86_64")["ImageId"])


def _aws(front: MotoFront, ami: str) -> dict[str, object]:
    return {"aws": {"regions": [REGION], "endpoint_url": front.url, "ami": ami, "max_attempts": 2,
                    "connect_timeout": 2, "read_timeout": 20}}


def _log(daemon: Daemon) -> str:
    path = daemon.home / "daemon.log"
    return path.read_text() if path.exists() else ""


def test_a_loopback_public_url_is_the_one_failing_row_and_the_cli_exits_1(
    front: MotoFront, image: str, tmp_path: Path
) -> None:
    with cloud_daemon(tmp_path, _aws(front, image), ENV) as daemon:
        table = daemon.cli("providers", "check", "--launch")
        assert table.returncode == 1, table.stderr
        assert all(word in table.stdout for word in ("check", "provider", "region", "result", "dry-run launch"))
        assert "public_url" in table.stdout and "cannot reach this machine" in table.stdout
        data = json.loads(daemon.cli("providers", "check", "--launch", "-o", "json").stdout)
        failing = [r for r in data["items"] if not r["ok"]]
        assert [(r["check"], r["provider"]) for r in failing] == [("public_url", "daemon")]
        assert "allow_loopback_public_url is set" in failing[0]["fix"]
        assert {r["check"] for r in data["items"] if r["ok"]} >= {"credentials", "image", "network", "dry-run launch"}
        # serve's own background preflight ran too, and found nothing else wrong
        wait_until(lambda: '"phase": "cloud"' in _log(daemon) and "preflight_done" in _log(daemon),
                   "the background preflight", timeout=60)
        assert "preflight_failed" not in _log(daemon)
    assert front.calls["RunInstances(DryRun)"] >= 1 and front.calls["RunInstances"] == 0  # nothing was launched


def test_a_missing_ami_is_logged_at_start_and_fails_the_check(front: MotoFront, tmp_path: Path) -> None:
    env = {**ENV, "SPOTWISE_PUBLIC_URL": "https://spotwise.example.com"}
    with cloud_daemon(tmp_path, _aws(front, AMI), env) as daemon:
        assert daemon.api("GET", "/v1/providers")["items"]  # start was not held up by the cloud checks
        wait_until(lambda: "preflight_failed" in _log(daemon), "the start-up preflight's warning", timeout=60)
        assert AMI in _log(daemon) and "set `ami`" in _log(daemon)
        result = daemon.cli("providers", "check", "aws", "--launch", "-o", "json")
        assert result.returncode == 1
        failing = [r for r in json.loads(result.stdout)["items"] if not r["ok"]]
        assert [(r["check"], r["region"]) for r in failing] == [("image", REGION)]


def test_a_working_config_passes_and_exits_0(front: MotoFront, image: str, tmp_path: Path) -> None:
    env = {**ENV, "SPOTWISE_PUBLIC_URL": "https://spotwise.example.com"}
    with cloud_daemon(tmp_path, _aws(front, image), env) as daemon:
        result = daemon.cli("providers", "check", "--launch", "-o", "json")
        assert result.returncode == 0, result.stdout + result.stderr
        data = json.loads(result.stdout)
        assert data["ok"] and any(r["check"] == "public_url" and r["ok"] for r in data["items"])
        typo = daemon.cli("providers", "check", "awz", "--launch")
        assert typo.returncode == 1 and "unknown provider awz; known:" in typo.stderr and "Traceback" not in typo.stderr
