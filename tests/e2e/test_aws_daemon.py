"""The AWS provider, end to end: the real daemon configured for AWS, the real CLI, moto over HTTP.

How the daemon sees realistic spot prices: the provider tests inject them with botocore event hooks,
which only work inside the process that owns the boto3 session. Here `spotwise serve` is a real
subprocess (configured through SPOTWISE_PROVIDERS, as an operator would), so the hooks cannot reach
it. Instead the daemon's `endpoint_url` is a small HTTP front (tests/fakes/moto_relay.py) that answers
DescribeSpotPriceHistory and Pricing GetProducts with the SAME generators the provider tests inject,
and forwards everything else to moto unchanged. The daemon's botocore parses real wire responses;
the only scripted part is the price feed, which moto does not model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from providers.aws.launch import client_token
from tests.e2e.clouds import AWS_ENV, attempt_facts, aws_config, cloud_daemon, launched_attempt, submit, wait_until
from tests.e2e.conftest import Daemon, write
from tests.fakes.moto_relay import MotoFront
from tests.providers.aws import conftest as aws_fixtures
from tests.providers.aws.conftest import AMI, REGION, SPOT_PRICES

# The session's moto server and its per-test reset, shared with tests/providers/aws.
moto_endpoint = aws_fixtures.moto_endpoint
endpoint = aws_fixtures.endpoint

A10G_TYPES = ("g5.xlarge", "g5.2xlarge")  # the A10G:1 types the injected price feed covers


@pytest.fixture
def front(endpoint: str) -> Iterator[MotoFront]:
    server = MotoFront(endpoint).start()
    yield server
    server.stop()


@pytest.fixture
def aws_daemon(front: MotoFront, tmp_path: Path) -> Iterator[Daemon]:
    with cloud_daemon(tmp_path, {"aws": aws_config(front.url, REGION, AMI)}, AWS_ENV) as daemon:
        yield daemon


def ec2(moto: str) -> Any:
    return boto3.client("ec2", region_name=REGION, endpoint_url=moto)


def instance_of_job(moto: str, job_id: str) -> dict[str, Any]:
    reservations = ec2(moto).describe_instances(
        Filters=[{"Name": "tag:spotwise-job", "Values": [job_id]}])["Reservations"]
    found = [i for r in reservations for i in r["Instances"]]
    assert len(found) == 1, f"expected one instance for {job_id}, found {len(found)}"
    return found[0]


def test_submit_spot_gpu_job_lands_in_cheapest_zone_and_cancel_terminates(
    aws_daemon: Daemon, front: MotoFront, endpoint: str, tmp_path: Path
) -> None:
    spec = write(tmp_path / "job.yaml", "name: aws-e2e\nrun: python train.py\n"
                 "resources: {accelerators: 'A10G:1', spot: true, clouds: [aws], max_price_per_hour: 2.5}\n")
    job_id = submit(aws_daemon, spec)
    attempt, row = launched_attempt(aws_daemon, job_id)

    cheapest_price, cheapest_type, cheapest_zone = min(
        (price, itype, zone) for (itype, zone), price in SPOT_PRICES.items() if itype in A10G_TYPES)
    assert (attempt["provider"], attempt["instance_type"], attempt["zone"]) == ("aws", cheapest_type, cheapest_zone)
    assert attempt["spot"] is True and attempt["price_per_hour"] == pytest.approx(cheapest_price)
    offers = json.loads(aws_daemon.cli("offers", "--cloud", "aws", "--gpu", "A10G:1", "--spot", "-o", "json",
                                       check=True).stdout)
    assert offers and {o["cloud"] for o in offers} == {"aws"} and {o["source"] for o in offers} == {"live"}
    assert (offers[0]["instance_type"], offers[0]["zone"]) == (cheapest_type, cheapest_zone)
    shown = {(o["instance_type"], o["zone"]): o["price_per_hour"] for o in offers}
    for pool, price in shown.items():  # every listed price is the injected live one
        assert price == pytest.approx(SPOT_PRICES[pool])

    facts = attempt_facts(aws_daemon, attempt["id"])
    instance = instance_of_job(endpoint, job_id)
    assert instance["InstanceId"] == row["id"]
    assert instance["InstanceType"] == cheapest_type
    assert instance["Placement"]["AvailabilityZone"] == cheapest_zone
    assert instance["ClientToken"] == client_token(facts.idempotency_key)
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["spotwise-job"] == job_id and tags["spotwise-attempt"] == attempt["id"]
    assert tags["spotwise-cluster"] == aws_daemon.cluster_id()

    # Spot market options as the daemon sent them (moto keeps no record of them on the instance).
    [request] = front.requests["RunInstances"]
    assert request["InstanceMarketOptions.MarketType"] == ["spot"]
    assert request["InstanceMarketOptions.SpotOptions.SpotInstanceType"] == ["one-time"]
    assert request["InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior"] == ["terminate"]
    assert float(request["InstanceMarketOptions.SpotOptions.MaxPrice"][0]) == pytest.approx(2.5)
    assert request["ClientToken"] == [client_token(facts.idempotency_key)]
    assert front.calls["DescribeSpotPriceHistory"] >= 1  # the price came from the injected feed

    cancelled = aws_daemon.cli("jobs", "cancel", job_id, check=True)
    assert "CANCELLED" in cancelled.stdout
    wait_until(lambda: instance_of_job(endpoint, job_id)["State"]["Name"] == "terminated",
               "the moto instance to be terminated")
    job = aws_daemon.api("GET", f"/v1/jobs/{job_id}")
    assert job["state"] == "CANCELLED"
    wait_until(lambda: job_attempt_state(aws_daemon, job_id) == "CANCELLED", "the attempt to end")
    assert aws_daemon.api("GET", "/v1/instances")["items"] == []


def job_attempt_state(daemon: Daemon, job_id: str) -> str:
    return str(daemon.api("GET", f"/v1/jobs/{job_id}")["attempt_list"][0]["state"])


def test_providers_list_check_and_idempotent_setup(aws_daemon: Daemon, endpoint: str) -> None:
    listed = json.loads(aws_daemon.cli("providers", "list", "-o", "json", check=True).stdout)["items"]
    assert [p["name"] for p in listed] == ["aws"]
    assert "interruption_events" in listed[0]["capabilities"]
    assert listed[0]["setup"] == ["setup_interruption_events"]

    checked = aws_daemon.cli("providers", "check", check=True)
    assert "aws" in checked.stdout and "ok" in checked.stdout
    identity = json.loads(aws_daemon.cli("providers", "check", "aws", "-o", "json", check=True).stdout)["items"]
    assert identity[0]["ok"] is True and identity[0]["account"].isdigit()

    first = json.loads(aws_daemon.cli("providers", "setup", "aws", "-o", "json", check=True).stdout)
    again = aws_daemon.cli("providers", "setup", "aws", check=True)
    queue_url = first["setup"]["setup_interruption_events"][REGION]
    assert "spotwise-interruptions" in queue_url and queue_url in again.stdout

    events = boto3.client("events", region_name=REGION, endpoint_url=endpoint)
    rules = events.list_rules(NamePrefix="spotwise")["Rules"]
    assert [r["Name"] for r in rules] == ["spotwise-interruptions"]
    pattern = json.loads(rules[0]["EventPattern"])
    assert "EC2 Spot Instance Interruption Warning" in pattern["detail-type"]
    targets = events.list_targets_by_rule(Rule="spotwise-interruptions")["Targets"]
    assert len(targets) == 1 and targets[0]["Arn"].endswith(":spotwise-interruptions")
    queues = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint).list_queues()["QueueUrls"]
    assert len(queues) == 1

    unknown = aws_daemon.cli("providers", "setup", "gcp")
    assert unknown.returncode == 1 and "not configured" in unknown.stderr and "Traceback" not in unknown.stderr
