"""The Azure provider, end to end: the real daemon configured for Azure against the fake ARM server.

The daemon is a real `spotwise serve` subprocess with the production credential path:
DefaultAzureCredential picks the managed identity from IDENTITY_ENDPOINT/IDENTITY_HEADER, served by
the fake (as App Service serves it), so no test-only credential is injected into the daemon.

No agent runs on a fake VM, so the test STANDS IN FOR THE AGENT: it posts a heartbeat with the
attempt's agent token, derived from the daemon's agent secret with orchestrator.tokens.agent_token
(the token the real agent gets by exchanging the custom data's bootstrap token: that exchange, with
the attested document, runs in tests/e2e/test_three_clouds.py). That heartbeat is what moves the job
to RUNNING, exactly as the real agent's first heartbeat would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clouds import (
    AZURE_CREDENTIAL_ENV,
    attempt_facts,
    azure_config,
    cloud_daemon,
    heartbeat_as_agent,
    launched_attempt,
    submit,
    wait_until,
)
from tests.e2e.conftest import Daemon, write
from tests.providers.azure import conftest as azure_fixtures
from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.fake_arm import IDENTITY_SECRET, FakeArm

# The session's fake ARM server and its per-test reset, shared with tests/providers/azure.
fake_arm = azure_fixtures.fake_arm
arm = azure_fixtures.arm



@pytest.fixture
def azure_daemon(arm: FakeArm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    for name in AZURE_CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    config = {"azure": azure_config(arm.url, data.SUBSCRIPTION, data.RESOURCE_GROUP, data.SUBNETS)}
    env = {"IDENTITY_ENDPOINT": f"{arm.url}/msi/token", "IDENTITY_HEADER": IDENTITY_SECRET}
    with cloud_daemon(tmp_path, config, env) as daemon:
        yield daemon


def cheapest_spot(size: str) -> tuple[float, str]:
    return min((spot, location) for (location, s), (_, spot) in data.PRICES.items() if s == size)


def test_spot_job_runs_in_cheapest_location_and_cancel_deletes_vm_nic_disk(
    azure_daemon: Daemon, arm: FakeArm, tmp_path: Path
) -> None:
    spec = write(tmp_path / "job.yaml", "name: azure-e2e\nrun: python train.py\n"
                 "resources: {accelerators: 'A100-80GB:1', spot: true, clouds: [azure]}\n")
    job_id = submit(azure_daemon, spec)
    attempt, row = launched_attempt(azure_daemon, job_id)

    price, location = cheapest_spot("Standard_NC24ads_A100_v4")
    assert (attempt["provider"], attempt["region"], attempt["instance_type"]) == \
        ("azure", location, "Standard_NC24ads_A100_v4")
    assert attempt["spot"] is True and attempt["price_per_hour"] == pytest.approx(price)
    offers = json.loads(azure_daemon.cli("offers", "--cloud", "azure", "--gpu", "A100-80GB:1", "--spot", "-o",
                                         "json", check=True).stdout)
    assert offers and {o["cloud"] for o in offers} == {"azure"} and offers[0]["source"] == "live"
    assert (offers[0]["region"], offers[0]["instance_type"]) == (location, "Standard_NC24ads_A100_v4")
    assert offers[0]["price_per_hour"] == pytest.approx(price)

    with arm.lock:
        [(vm_name, vm)] = list(arm.state.vms.items())
        nics, disks = set(arm.state.nics), set(arm.state.disks)
    assert row["id"].lower().endswith(vm_name.lower())
    props = vm["properties"]
    assert vm["location"] == location and props["priority"] == "Spot" and props["evictionPolicy"] == "Delete"
    assert vm["tags"]["spotwise-job"] == job_id and vm["tags"]["spotwise-attempt"] == attempt["id"]
    assert vm["tags"]["spotwise-cluster"] == azure_daemon.cluster_id()
    assert nics and disks, "the launch made a NIC and an OS disk"
    generated = azure_daemon.home / "azure-ssh" / "id_rsa"
    assert generated.stat().st_mode & 0o777 == 0o600
    [key] = props["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"]
    assert key["keyData"] == generated.with_suffix(".pub").read_text().strip()
    assert arm.count("GET", "/msi/token") >= 1  # the daemon's token came from the managed identity

    facts = attempt_facts(azure_daemon, attempt["id"])
    assert heartbeat_as_agent(azure_daemon, attempt["id"], facts.agent_token) == {"action": "continue"}
    running = azure_daemon.wait_for(job_id, {"RUNNING"}, timeout=10)
    assert running["attempt_list"][0]["state"] == "RUNNING"

    assert "CANCELLED" in azure_daemon.cli("jobs", "cancel", job_id, check=True).stdout

    def all_deleted() -> bool:
        with arm.lock:
            return not arm.state.vms and not (nics & set(arm.state.nics)) and not (disks & set(arm.state.disks))

    wait_until(all_deleted, "the VM, its NIC and its OS disk to be deleted")
    assert azure_daemon.api("GET", "/v1/instances")["items"] == []
    stop = heartbeat_as_agent(azure_daemon, attempt["id"], facts.agent_token)
    assert stop["action"] == "stop"  # an agent still alive would now be told to stop


def test_providers_check_uses_the_managed_identity(azure_daemon: Daemon) -> None:
    [item] = json.loads(azure_daemon.cli("providers", "check", "-o", "json", check=True).stdout)["items"]
    assert item["name"] == "azure" and item["ok"] is True and item["account"] == data.SUBSCRIPTION
    setup = azure_daemon.cli("providers", "setup", "azure", check=True)
    assert "needs no setup" in setup.stdout


def test_nothing_is_left_behind_after_a_failed_launch_and_an_eviction(
    azure_daemon: Daemon, arm: FakeArm, tmp_path: Path
) -> None:
    """The first create fails (ARM then holds its NIC, here for 2 s instead of 180); the job fails over,
    its VM is evicted (the NIC stays), the job runs again and is cancelled. The reconcile loop's orphan
    sweep deletes both NICs; afterwards no VM, NIC or disk of any kind is left in the resource group."""
    arm.state.nic_reservation_seconds = 2
    arm.fail_allocation("AllocationFailed")
    spec = write(tmp_path / "job.yaml", "name: azure-leftovers\nrun: python train.py\n"
                 "resources: {accelerators: 'A100-80GB:1', spot: true, clouds: [azure]}\n")
    job_id = submit(azure_daemon, spec)

    def running_vm(besides: str = "") -> str | None:
        with arm.lock:
            live = [n for n, vm in arm.state.vms.items() if vm["_state"] == "Succeeded" and n != besides]
        return live[0] if live else None

    first = wait_until(running_vm, "the failed-over launch to make a VM")
    with arm.lock:
        assert len(arm.state.nic_reserved) == 1, "the failed create's NIC is reserved"
    arm.evict(first)
    second = wait_until(lambda: running_vm(besides=first), "the preempted job to be launched again", timeout=30)
    assert "CANCELLED" in azure_daemon.cli("jobs", "cancel", job_id, check=True).stdout
    nothing = {"vms": [], "nics": [], "disks": []}
    wait_until(lambda: arm.leftovers() == nothing, "every VM, NIC and disk to be deleted", timeout=30)
    events = json.dumps(azure_daemon.api("GET", f"/v1/jobs/{job_id}/events")["items"])
    assert "AllocationFailed" in events and "preempted" in events and second != first
