"""Each cloud, alone, as the one-cloud daemon e2e sees it (tests/e2e/test_each_cloud.py): the job it is given,
where the cheapest spot pool is, how to look at the VM from outside the daemon, what only that cloud must show
(its wire request, its VM's spot settings, its credential path), and how its agent gets its token.

Why one table and not three test files: the scenario (submit, land on the cheapest live pool, tag the VM, run,
cancel, clean up, check the provider) is the same on every cloud; only these facts differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from providers.aws.launch import client_token
from providers.gcp.labels import label_value
from tests.agent.fake_metadata import fake_metadata_server
from tests.e2e.clouds import (
    AZURE_CREDENTIAL_ENV,
    attempt_facts,
    azure_config,
    cloud_daemon,
    exchange_as_agent,
    metadata_grants_nothing,
)
from tests.e2e.conftest import Daemon
from tests.fakes.moto_relay import MotoFront
from tests.providers.aws.conftest import REGION, SPOT_PRICES
from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.fake_arm import IDENTITY_SECRET, FakeArm
from tests.providers.gcp.fake_billing import REGION_FACTOR
from tests.providers.gcp.fake_gce import FakeGCE

A10G_TYPES = ("g5.xlarge", "g5.2xlarge")  # the A10G:1 types the injected AWS price feed covers
GCP_MACHINE = "a2-highgpu-1g"  # the only A100 (40 GB) shape the fake Compute Engine offers, in two regions
AZURE_SIZE = "Standard_NC24ads_A100_v4"

Attempt = dict[str, Any]


@dataclass
class OneCloud:
    name: str
    resources: str  # the job spec's resources line
    gpu: str
    place_key: str  # the attempt/offer field that names the cheapest pool: "zone" or "region"
    cheapest: tuple[str, str, float | None]  # (place, instance type, spot price; None: whatever the offer says)
    tags: Callable[[str], dict[str, str]]  # job id -> the tags (labels) of its one VM
    tag: Callable[[str], str]  # how a value is written into a tag (GCE labels are restricted)
    # cloud-only checks on the launch, then a probe that is true once every resource of that launch is gone
    check_launch: Callable[[Daemon, str, Attempt, dict[str, Any], list[dict[str, Any]]], Callable[[], bool]]
    agent_token: Callable[[Daemon, Attempt, dict[str, Any]], str]  # what the agent on that VM ends up holding
    check_provider: Callable[[Daemon, dict[str, Any]], None]  # `providers check` item, then `providers setup`


def aws(front: MotoFront, moto: str) -> OneCloud:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto)

    def instance(job_id: str) -> dict[str, Any]:
        reservations = ec2.describe_instances(
            Filters=[{"Name": "tag:spotwise-job", "Values": [job_id]}])["Reservations"]
        found = [i for r in reservations for i in r["Instances"]]
        assert len(found) == 1, f"expected one instance for {job_id}, found {len(found)}"
        return found[0]

    def check_launch(daemon: Daemon, job_id: str, attempt: Attempt, row: dict[str, Any],
                     offers: list[dict[str, Any]]) -> Callable[[], bool]:
        assert {o["source"] for o in offers} == {"live"}
        for o in offers:  # every listed price is the injected live one
            assert o["price_per_hour"] == pytest.approx(SPOT_PRICES[(o["instance_type"], o["zone"])])
        facts = attempt_facts(daemon, attempt["id"])
        found = instance(job_id)
        assert found["InstanceId"] == row["id"] and found["InstanceType"] == attempt["instance_type"]
        assert found["Placement"]["AvailabilityZone"] == attempt["zone"]
        assert found["ClientToken"] == client_token(facts.idempotency_key)
        # Spot market options as the daemon sent them (moto keeps no record of them on the instance).
        [request] = front.requests["RunInstances"]
        assert request["InstanceMarketOptions.MarketType"] == ["spot"]
        assert request["InstanceMarketOptions.SpotOptions.SpotInstanceType"] == ["one-time"]
        assert request["InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior"] == ["terminate"]
        assert float(request["InstanceMarketOptions.SpotOptions.MaxPrice"][0]) == pytest.approx(2.5)
        assert request["ClientToken"] == [client_token(facts.idempotency_key)]
        assert front.calls["DescribeSpotPriceHistory"] >= 1  # the price came from the injected feed
        return lambda: instance(job_id)["State"]["Name"] == "terminated"

    def check_provider(daemon: Daemon, item: dict[str, Any]) -> None:
        assert item["account"].isdigit()
        listed = json.loads(daemon.cli("providers", "list", "-o", "json", check=True).stdout)["items"]
        assert "interruption_events" in listed[0]["capabilities"]
        assert listed[0]["setup"] == ["setup_interruption_events"]
        first = json.loads(daemon.cli("providers", "setup", "aws", "-o", "json", check=True).stdout)
        again = daemon.cli("providers", "setup", "aws", check=True)  # idempotent: the same queue, nothing new
        queue_url = first["setup"]["setup_interruption_events"][REGION]
        assert "spotwise-interruptions" in queue_url and queue_url in again.stdout
        events = boto3.client("events", region_name=REGION, endpoint_url=moto)
        rules = events.list_rules(NamePrefix="spotwise")["Rules"]
        assert [r["Name"] for r in rules] == ["spotwise-interruptions"]
        assert "EC2 Spot Instance Interruption Warning" in json.loads(rules[0]["EventPattern"])["detail-type"]
        targets = events.list_targets_by_rule(Rule="spotwise-interruptions")["Targets"]
        assert len(targets) == 1 and targets[0]["Arn"].endswith(":spotwise-interruptions")
        assert len(boto3.client("sqs", region_name=REGION, endpoint_url=moto).list_queues()["QueueUrls"]) == 1

    price, itype, zone = min((p, t, z) for (t, z), p in SPOT_PRICES.items() if t in A10G_TYPES)
    return OneCloud(
        "aws", "{accelerators: 'A10G:1', spot: true, clouds: [aws], max_price_per_hour: 2.5}", "A10G:1", "zone",
        (zone, itype, price), lambda job_id: {t["Key"]: t["Value"] for t in instance(job_id)["Tags"]}, str,
        check_launch, lambda daemon, attempt, _row: attempt_facts(daemon, attempt["id"]).agent_token,
        check_provider)


def _gcp_cheapest_zone(fake: FakeGCE) -> str:
    """The fake prices a region by its factor (same SKUs everywhere): the cheapest zone selling the machine."""
    zones = [z for z, (types, _) in fake.zone_catalog.items() if GCP_MACHINE in {t["name"] for t in types}]
    ranked = sorted(zones, key=lambda z: REGION_FACTOR[z.rsplit("-", 1)[0]])
    assert len(ranked) > 1 and REGION_FACTOR[ranked[0].rsplit("-", 1)[0]] < REGION_FACTOR[ranked[1].rsplit("-", 1)[0]]
    return ranked[0]


def gcp(fake: FakeGCE) -> OneCloud:
    def only() -> tuple[str, str, dict[str, Any]]:
        with fake.lock:
            [((zone, name), inst)] = list(fake.instances.items())
        return zone, name, inst

    def script(inst: dict[str, Any]) -> str:
        return str({i["key"]: i["value"] for i in inst.get("metadata", {}).get("items", [])}["startup-script"])

    def check_launch(daemon: Daemon, _job_id: str, attempt: Attempt, row: dict[str, Any],
                     offers: list[dict[str, Any]]) -> Callable[[], bool]:
        assert offers[0]["price_per_hour"] == attempt["price_per_hour"] > 0
        l4 = json.loads(daemon.cli("offers", "--cloud", "gcp", "--gpu", "L4", "-o", "json", check=True).stdout)
        assert l4 and {o["gpu_model"] for o in l4} == {"L4"} and {o["spot"] for o in l4} == {True, False}
        assert all(o["price_per_hour"] > 0 and o["instance_type"].startswith("g2-") for o in l4)
        zone, name, inst = only()
        assert zone == attempt["zone"] and inst["machineType"].endswith(f"/{GCP_MACHINE}")
        scheduling = inst["scheduling"]
        assert scheduling["provisioningModel"] == "SPOT" and scheduling["instanceTerminationAction"] == "DELETE"
        assert name in row["id"]

        def deleted() -> bool:
            with fake.lock:
                return not fake.instances

        return deleted

    def agent_token(daemon: Daemon, attempt: Attempt, _row: dict[str, Any]) -> str:
        """Read the startup-script (no accepted token in it) and exchange it with the VM's identity token."""
        zone, _, inst = only()
        text = script(inst)
        metadata_grants_nothing(daemon, attempt["id"], text)
        with fake_metadata_server() as (imds, state):  # the VM's metadata server: its identity token names it
            state.set_identity("gcp", inst["id"], zone=zone, account=fake.project)
            token = exchange_as_agent(daemon, text, f"gcp:{imds}")
        assert token == attempt_facts(daemon, attempt["id"]).agent_token
        return token

    return OneCloud(
        "gcp", "{accelerators: 'A100:1', spot: true, clouds: [gcp]}", "A100:1", "zone",
        (_gcp_cheapest_zone(fake), GCP_MACHINE, None), lambda _job_id: dict(only()[2]["labels"]), label_value,
        check_launch, agent_token, lambda _daemon, _item: None)


def azure(fake: FakeArm) -> OneCloud:
    def only() -> tuple[str, dict[str, Any]]:
        with fake.lock:
            [(vm_name, vm)] = list(fake.state.vms.items())
        return vm_name, vm

    def check_launch(daemon: Daemon, _job_id: str, attempt: Attempt, row: dict[str, Any],
                     offers: list[dict[str, Any]]) -> Callable[[], bool]:
        vm_name, vm = only()
        with fake.lock:
            nics, disks = set(fake.state.nics), set(fake.state.disks)
        assert row["id"].lower().endswith(vm_name.lower())
        props = vm["properties"]
        assert vm["location"] == attempt["region"]
        assert props["priority"] == "Spot" and props["evictionPolicy"] == "Delete"
        assert nics and disks, "the launch made a NIC and an OS disk"
        generated = daemon.home / "azure-ssh" / "id_rsa"  # no ssh_public_key configured: the daemon made one
        assert generated.stat().st_mode & 0o777 == 0o600
        [key] = props["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"]
        assert key["keyData"] == Path(f"{generated}.pub").read_text().strip()
        assert fake.count("GET", "/msi/token") >= 1  # the daemon's token came from the managed identity

        def all_deleted() -> bool:
            with fake.lock:
                return not fake.state.vms and not (nics & set(fake.state.nics)) and not (disks & set(fake.state.disks))

        return all_deleted

    def check_provider(daemon: Daemon, item: dict[str, Any]) -> None:
        assert item["account"] == data.SUBSCRIPTION
        assert "needs no setup" in daemon.cli("providers", "setup", "azure", check=True).stdout

    price, location = min((spot, loc) for (loc, size), (_, spot) in data.PRICES.items() if size == AZURE_SIZE)
    return OneCloud(
        "azure", "{accelerators: 'A100-80GB:1', spot: true, clouds: [azure]}", "A100-80GB:1", "region",
        (location, AZURE_SIZE, price), lambda _job_id: dict(only()[1]["tags"]), str,
        check_launch, lambda daemon, attempt, _row: attempt_facts(daemon, attempt["id"]).agent_token,
        check_provider)


@contextmanager
def azure_daemon(tmp_path: Path, fake: FakeArm, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    """A daemon for Azure alone, on the production credential path: DefaultAzureCredential picks the managed
    identity the fake serves (as App Service does), so no test-only credential reaches the daemon."""
    for var in AZURE_CREDENTIAL_ENV:
        monkeypatch.delenv(var, raising=False)
    config = {"azure": azure_config(fake.url, data.SUBSCRIPTION, data.RESOURCE_GROUP, data.SUBNETS)}
    env = {"IDENTITY_ENDPOINT": f"{fake.url}/msi/token", "IDENTITY_HEADER": IDENTITY_SECRET}
    with cloud_daemon(tmp_path, config, env) as daemon:
        yield daemon
