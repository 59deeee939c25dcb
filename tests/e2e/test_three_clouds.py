"""One daemon, three clouds: a job on each runs end to end, is preempted once, and leaves nothing behind.

The daemon is a real `spotwise serve` subprocess with AWS (moto behind tests/fakes/moto_relay.py), GCP (the fake
Compute Engine) and Azure (the fake ARM server, with its managed identity) all configured, as an operator would.
Each job is pinned to one cloud. No agent runs on a fake VM, so the test stands in for it with the agent's own
exchange code: it reads the bootstrap token from the instance's start-up script (user data / startup-script /
custom data, as the VM would), checks that the script holds no token the agent API accepts, trades it with an
identity proof from a fake metadata server that names the instance (EC2 instance id, GCE numeric id, Azure
vmId), and checks that a second exchange of the same token is refused. The agent then reports a preemption
notice, the cloud reclaims the VM, the daemon relaunches, the second attempt's agent exchanges its own token and
reports success. On Azure the first create fails as well, so ARM holds that VM's NIC for a while
(NicReservedForAnotherVm; the fake's reservation is 2 s instead of ~180) and the daemon's sweep must come back
for it. Afterwards every tagged resource type of that cloud is listed until none is left: AWS instances,
volumes, network interfaces and spot requests; GCE instances (and the boot disks inside them); Azure VMs, NICs,
disks and public IPs.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from orchestrator.agent.client import DaemonRefused
from orchestrator.agent.session import exchange
from tests.agent.fake_metadata import MetadataState, fake_metadata_server
from tests.e2e.clouds import (
    AWS_ENV,
    AZURE_CREDENTIAL_ENV,
    attempt_facts,
    aws_config,
    azure_config,
    bootstrap_of,
    cloud_daemon,
    exchange_as_agent,
    gcp_config,
    heartbeat_as_agent,
    metadata_grants_nothing,
    submit,
    wait_until,
)
from tests.e2e.conftest import Daemon, write
from tests.fakes.moto_relay import MotoFront
from tests.providers.aws import conftest as aws_fixtures
from tests.providers.aws.conftest import AMI, REGION
from tests.providers.azure import conftest as azure_fixtures
from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.fake_arm import IDENTITY_SECRET, FakeArm
from tests.providers.gcp import conftest as gcp_fixtures
from tests.providers.gcp.fake_gce import FakeGCE, FakeGCEServer

moto_endpoint, endpoint = aws_fixtures.moto_endpoint, aws_fixtures.endpoint
gce_server, gce = gcp_fixtures.gce_server, gcp_fixtures.gce
fake_arm, arm = azure_fixtures.fake_arm, azure_fixtures.arm

GPU = {"aws": "A10G:1", "gcp": "A100:1", "azure": "A100-80GB:1"}


@pytest.fixture
def front(endpoint: str) -> Iterator[MotoFront]:
    server = MotoFront(endpoint).start()
    yield server
    server.stop()


@pytest.fixture
def daemon(front: MotoFront, gce_server: FakeGCEServer, gce: FakeGCE, arm: FakeArm, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    for name in AZURE_CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    arm.state.nic_reservation_seconds = 2  # ARM holds a NIC ~180 s after its VM; the sweep retries later
    providers = {"aws": aws_config(front.url, REGION, AMI), "gcp": gcp_config(gce_server.url, gce.project),
                 "azure": azure_config(arm.url, data.SUBSCRIPTION, data.RESOURCE_GROUP, data.SUBNETS)}
    env = {**AWS_ENV, "IDENTITY_ENDPOINT": f"{arm.url}/msi/token", "IDENTITY_HEADER": IDENTITY_SECRET,
           "SPOTWISE_RECONCILE_INTERVAL_SECONDS": "1"}
    with cloud_daemon(tmp_path, providers, env) as running:
        yield running


@dataclass
class Cloud:
    """One cloud as the test sees it from outside the daemon: each VM's start-up script and identity, what the
    cloud does to reclaim a spot VM, and every resource it still holds for this cluster."""

    name: str
    script: Callable[[str], str]  # instance id (the daemon's) -> start-up script
    be: Callable[[MetadataState, dict[str, Any]], None]  # make the fake metadata server this instance
    reclaim: Callable[[str], None]
    leftovers: Callable[[str], dict[str, list[str]]]  # cluster id -> kind -> ids still there


def _aws(moto: str) -> Cloud:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto)

    def script(instance_id: str) -> str:
        raw = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")["UserData"]["Value"]
        return base64.b64decode(raw).decode()

    def leftovers(cluster: str) -> dict[str, list[str]]:
        tagged = [{"Name": "tag:spotwise-cluster", "Values": [cluster]}]
        ours = [i for r in ec2.describe_instances(Filters=tagged)["Reservations"] for i in r["Instances"]]
        ids = {i["InstanceId"] for i in ours}
        gone = {i["InstanceId"] for i in ours if i["State"]["Name"] == "terminated"}
        return {
            "instances": [i["InstanceId"] for i in ours if i["State"]["Name"] != "terminated"],
            "volumes": [v["VolumeId"] for v in ec2.describe_volumes(Filters=tagged)["Volumes"]] + [
                v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]
                if any(a.get("InstanceId") in ids for a in v.get("Attachments", []))],
            # The primary network interface RunInstances creates (device 0) is deleted with its instance; moto
            # keeps listing it, attached to the terminated instance (and says DeleteOnTermination false). Any
            # other interface of ours would be a leak. https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-eni.html
            "network_interfaces": [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces()[
                "NetworkInterfaces"] if (n.get("Attachment") or {}).get("InstanceId") in ids and not (
                    n["Attachment"].get("DeviceIndex") == 0 and n["Attachment"]["InstanceId"] in gone)],
            "spot_requests": [s["SpotInstanceRequestId"] for s in ec2.describe_spot_instance_requests()[
                "SpotInstanceRequests"] if s.get("InstanceId") in ids and s["State"] in ("open", "active")],
        }

    return Cloud("aws", script,
                 lambda state, row: state.set_identity("aws", row["id"], region=row["region"], zone=row["zone"]),
                 lambda instance_id: ec2.terminate_instances(InstanceIds=[instance_id]) and None, leftovers)


def _gcp(fake: FakeGCE) -> Cloud:
    def find(instance_id: str) -> tuple[str, str, dict[str, Any]]:
        with fake.lock:
            [(zone, name, inst)] = [(z, n, i) for (z, n), i in fake.instances.items() if n in instance_id]
        return zone, name, inst

    def script(instance_id: str) -> str:
        items = find(instance_id)[2].get("metadata", {}).get("items", [])
        return str({i["key"]: i["value"] for i in items}["startup-script"])

    def be(state: MetadataState, row: dict[str, Any]) -> None:
        zone, _, inst = find(row["id"])
        state.set_identity("gcp", str(inst["id"]), zone=zone, account=fake.project)

    def reclaim(instance_id: str) -> None:  # a Spot VM with instanceTerminationAction DELETE goes away entirely
        zone, name, inst = find(instance_id)
        fake.preempt(zone, name, delete=inst["scheduling"].get("instanceTerminationAction") == "DELETE")

    def leftovers(cluster: str) -> dict[str, list[str]]:
        with fake.lock:  # a GCE boot disk lives inside its instance here (autoDelete): instances are all there is
            live = [n for (_, n), i in fake.instances.items()
                    if i.get("labels", {}).get("spotwise-cluster") and i.get("status") != "TERMINATED"]
            kept = [n for (_, n), i in fake.instances.items() if i.get("labels", {}).get("spotwise-cluster")]
        return {"instances": live, "disks": kept}

    return Cloud("gcp", script, be, reclaim, leftovers)


def _azure(fake: FakeArm) -> Cloud:
    def script(instance_id: str) -> str:
        with fake.lock:
            return base64.b64decode(fake.state.custom_data[instance_id]).decode()

    def be(state: MetadataState, row: dict[str, Any]) -> None:
        with fake.lock:
            vm_id = fake.state.vms[row["id"]]["properties"]["vmId"]
        state.set_identity("azure", vm_id, account=data.SUBSCRIPTION)

    def leftovers(_cluster: str) -> dict[str, list[str]]:
        # the fake's resource group holds only what this test's daemon made; Spotwise creates no public IPs
        # (providers/azure/launch.py: a NIC on the configured subnet), and none was ever requested
        return {**fake.leftovers(), "public_ips": ["requested!"] if fake.count("PUT", "publicIPAddresses") else []}

    return Cloud("azure", script, be, lambda name: fake.evict(name), leftovers)


def _attempts(daemon: Daemon, job_id: str) -> list[dict[str, Any]]:
    job = daemon.api("GET", f"/v1/jobs/{job_id}")
    if job["state"] in ("FAILED", "CANCELLED"):
        raise AssertionError(f"job {job_id} is {job['state']}: "
                             f"{json.dumps(daemon.api('GET', f'/v1/jobs/{job_id}/events')['items'])[-1500:]}")
    return list(job.get("attempt_list") or [])


def _launched(daemon: Daemon, job_id: str, number: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `number`th attempt that got an instance, once LAUNCHED, and its instance row (failed creates skipped)."""
    def probe() -> dict[str, Any] | None:
        attempts = [a for a in _attempts(daemon, job_id) if a["state"] != "LAUNCH_FAILED"]
        return attempts[number - 1] if len(attempts) >= number and attempts[number - 1]["state"] == "LAUNCHED" \
            else None

    attempt = wait_until(probe, f"attempt {number} of {job_id} to be launched", timeout=40)
    [row] = [r for r in daemon.api("GET", "/v1/instances")["items"] if r["attempt_id"] == attempt["id"]]
    return attempt, row


def _agent_starts(daemon: Daemon, cloud: Cloud, imds: tuple[str, MetadataState], row: dict[str, Any],
                  attempt_id: str) -> str:
    """What the agent does on boot: read the script, prove who it is, exchange; then its first heartbeat."""
    script = cloud.script(row["id"])
    metadata_grants_nothing(daemon, attempt_id, script)
    cloud.be(imds[1], row)
    token = exchange_as_agent(daemon, script, f"{cloud.name}:{imds[0]}")
    assert token == attempt_facts(daemon, attempt_id).agent_token
    with pytest.raises(DaemonRefused) as again:  # the same token read again from metadata: refused
        exchange(daemon.url, bootstrap_of(script), secrets.token_urlsafe(32), f"{cloud.name}:{imds[0]}",
                 give_up_after=10)
    assert again.value.status == 409
    assert heartbeat_as_agent(daemon, attempt_id, token)["action"] == "continue"
    return token


def _report_exit(daemon: Daemon, attempt_id: str, token: str, body: dict[str, Any]) -> None:
    answer = httpx.post(f"{daemon.url}/v1/agent/attempts/{attempt_id}/exit", json=body,
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("cloud_name", ["aws", "gcp", "azure"])
def test_a_job_on_each_cloud_runs_is_preempted_once_and_leaves_nothing(
        cloud_name: str, daemon: Daemon, endpoint: str, gce: FakeGCE, arm: FakeArm, tmp_path: Path) -> None:
    cloud = {"aws": lambda: _aws(endpoint), "gcp": lambda: _gcp(gce), "azure": lambda: _azure(arm)}[cloud_name]()
    spec = write(tmp_path / "job.yaml", f"name: three-clouds-{cloud_name}\nrun: python train.py\n"
                 f"resources: {{accelerators: '{GPU[cloud_name]}', spot: true, clouds: [{cloud_name}]}}\n")
    if cloud_name == "azure":  # the first create fails: ARM then holds its NIC (here 2 s) for the failed VM
        arm.fail_allocation("AllocationFailed")
    # submit checks the offers the daemon holds: each cloud's first price refresh runs after /healthz answers, and
    # on a loaded machine azure's had not landed yet ("no configured provider offers A100-80GB:1 spot in clouds azure")
    wait_until(lambda: daemon.api("GET", "/v1/offers", params={"gpu": GPU[cloud_name], "cloud": cloud_name,
                                                               "market": "spot", "limit": 1})["items"],
               f"{cloud_name}'s offers in the daemon", timeout=30)
    job_id = submit(daemon, spec)
    with fake_metadata_server() as imds:
        first, row = _launched(daemon, job_id, 1)
        assert first["provider"] == cloud_name
        token = _agent_starts(daemon, cloud, imds, row, first["id"])
        daemon.wait_for(job_id, {"RUNNING"}, timeout=20)

        _report_exit(daemon, first["id"], token, {"exit_code": 143, "preempted": True})  # it saw the notice
        cloud.reclaim(row["id"])  # and the cloud takes the VM
        second, row2 = _launched(daemon, job_id, 2)
        assert [a["state"] for a in _attempts(daemon, job_id) if a["id"] == first["id"]] == ["PREEMPTED"]
        assert row2["id"] != row["id"]
        token2 = _agent_starts(daemon, cloud, imds, row2, second["id"])
        assert token2 != token
        _report_exit(daemon, second["id"], token2, {"exit_code": 0})
    assert daemon.wait_for(job_id, {"SUCCEEDED"}, timeout=20)["state"] == "SUCCEEDED"

    cluster = daemon.cluster_id()
    seen: list[dict[str, list[str]]] = []

    def nothing_left() -> bool:
        seen.append(cloud.leftovers(cluster))
        return not any(seen[-1].values())

    try:
        wait_until(nothing_left, f"every {cloud_name} resource of the cluster to be gone", timeout=60, every=1.0)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still there: {seen[-1]}") from None
    assert daemon.api("GET", "/v1/instances")["items"] == []
    events = json.dumps(daemon.api("GET", f"/v1/jobs/{job_id}/events")["items"])
    assert events.count("exchanged its bootstrap token") == 2 and "possible token theft" in events
    assert events.count("signature verified") == 2  # each cloud's signature, under the keys the daemon trusts
    assert cloud_name != "azure" or "AllocationFailed" in events  # its reserved NIC went too (nothing left)
