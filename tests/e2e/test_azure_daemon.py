"""The Azure provider's own story, end to end: the real daemon configured for Azure against the fake ARM server.

The daemon is a real `spotwise serve` subprocess with the production credential path:
DefaultAzureCredential picks the managed identity from IDENTITY_ENDPOINT/IDENTITY_HEADER, served by
the fake (as App Service serves it), so no test-only credential is injected into the daemon.

What every cloud shares (cheapest pool, tags, run, cancel, providers check) is tests/e2e/test_each_cloud.py;
here is what only ARM does: a failed create leaves its NIC reserved, and deleting a VM leaves its NIC and disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import one_cloud
from tests.e2e.clouds import (
    submit,
    wait_until,
)
from tests.e2e.conftest import Daemon, write
from tests.providers.azure import conftest as azure_fixtures
from tests.providers.azure.fake_arm import FakeArm

# The session's fake ARM server and its per-test reset, shared with tests/providers/azure.
fake_arm = azure_fixtures.fake_arm
arm = azure_fixtures.arm


@pytest.fixture
def azure_daemon(arm: FakeArm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    with one_cloud.azure_daemon(tmp_path, arm, monkeypatch) as daemon:
        yield daemon


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
