"""Nothing is left behind in the resource group: the NIC an eviction keeps, the NIC ARM holds reserved
after a failed create (NicReservedForAnotherVm for an early delete), and an OS disk a half-done delete
left are reported by list_managed as gone instances and deleted by terminate, which is what the
reconcile loop's orphan sweep calls (tests/e2e/test_azure_daemon.py runs that loop)."""

from __future__ import annotations

import pytest

from providers.azure import AzureProvider
from providers.azure.launch import nic_name, os_disk_name
from providers.base import InstanceState
from providers.errors import CapacityError, TransientError
from tests.providers.azure.conftest import StaticCredential, make_config
from tests.providers.azure.fake_arm import FakeArm
from tests.providers.azure.helpers import offer, spec


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(arm: FakeArm, sleeps: list[float], clock: Clock) -> AzureProvider:
    return AzureProvider(make_config(arm), credential=StaticCredential(), sleep=sleeps.append, clock=clock)


def test_reserved_nic_after_a_failed_launch_is_deleted_once_arm_allows(
    provider: AzureProvider, arm: FakeArm, sleeps: list[float], clock: Clock
) -> None:
    arm.fail_allocation("AllocationFailed")
    launch_spec = spec(offer(provider))
    with pytest.raises(CapacityError):  # the launch's own error, not the cleanup's
        provider.launch(launch_spec)
    vm = next(iter(arm.state.nic_reserved)).removesuffix("-nic")
    assert arm.leftovers() == {"vms": [], "nics": [nic_name(vm)], "disks": []}
    assert arm.count("DELETE", f"/networkInterfaces/{nic_name(vm)}") == 1  # refused once, not hammered
    assert sleeps == []
    assert provider.list_managed("c1") == []  # held back while ARM still reserves it

    clock.now += 179
    assert provider.list_managed("c1") == []
    clock.now += 2
    arm.expire_reservations()
    [left] = provider.list_managed("c1")
    assert (left.id, left.state, left.preempted, left.attempt_id) == (
        vm, InstanceState.TERMINATED, False, launch_spec.attempt_id)
    provider.terminate([left.id])  # what the orphan sweep does: the attempt ended LAUNCH_FAILED
    assert arm.leftovers() == {"vms": [], "nics": [], "disks": []}
    assert provider.list_managed("c1") == []


def test_a_terminate_that_meets_a_reserved_nic_deletes_it_later(
    provider: AzureProvider, arm: FakeArm, clock: Clock
) -> None:
    arm.fail_allocation("AllocationFailed")
    with pytest.raises(CapacityError):
        provider.launch(spec(offer(provider)))
    vm = next(iter(arm.state.nic_reserved)).removesuffix("-nic")
    restarted = AzureProvider(make_config(arm), credential=StaticCredential(), clock=clock)
    [left] = restarted.list_managed("c1")  # a new process knows no reservation: it tries, ARM refuses
    restarted.terminate([left.id])  # the VM is gone; the NIC is noted, terminate does not fail
    assert arm.leftovers()["nics"] == [nic_name(vm)] and restarted.list_managed("c1") == []
    clock.now += 181
    arm.expire_reservations()
    restarted.terminate([i.id for i in restarted.list_managed("c1")])
    assert arm.leftovers() == {"vms": [], "nics": [], "disks": []}


def test_eviction_leftovers_are_listed_as_preempted_and_terminated(provider: AzureProvider, arm: FakeArm) -> None:
    info = provider.launch(spec(offer(provider)))
    arm.evict(info.id)
    [left] = provider.list_managed("c1")
    assert (left.id, left.state, left.preempted, left.region) == (info.id, InstanceState.TERMINATED, True, "eastus")
    provider.terminate([left.id])
    assert arm.leftovers() == {"vms": [], "nics": [], "disks": []}


def test_a_tagged_disk_without_its_vm_is_swept(provider: AzureProvider, arm: FakeArm) -> None:
    """An OS disk whose VM is gone (a delete that stopped half-way, or a disk made with deleteOption Detach)."""
    vm = "spotwise-0123456789abcdef01234567"
    with arm.lock:
        arm.state.disks[os_disk_name(vm)] = {"name": os_disk_name(vm), "location": "eastus",
                                             "tags": {"spotwise-cluster": "c1", "spotwise-attempt": "att-1"}}
        arm.state.disks["someone-elses-disk"] = {"name": "someone-elses-disk", "location": "eastus", "tags": {}}
    [left] = provider.list_managed("c1")
    assert (left.id, left.state, left.preempted, left.attempt_id) == (vm, InstanceState.TERMINATED, False, "att-1")
    provider.terminate([left.id])
    assert arm.leftovers() == {"vms": [], "nics": [], "disks": ["someone-elses-disk"]}


def test_other_clusters_leftovers_are_not_ours(provider: AzureProvider, arm: FakeArm) -> None:
    info = provider.launch(spec(offer(provider), cluster="someone-else"))
    arm.evict(info.id)
    assert provider.list_managed("c1") == []
    assert [i.id for i in provider.list_managed("someone-else")] == [info.id]


def test_relaunching_onto_a_reserved_nic_is_transient(provider: AzureProvider, arm: FakeArm) -> None:
    """The same key again within ARM's 180 s: the VM create meets the reserved NIC; that is transient
    (the launcher tries again on a later pass), never a failed job."""
    arm.fail_allocation("AllocationFailed")
    launch_spec = spec(offer(provider))
    with pytest.raises(CapacityError):
        provider.launch(launch_spec)
    with pytest.raises(TransientError) as caught:
        provider.launch(launch_spec)
    assert caught.value.raw_code == "NicReservedForAnotherVm" and "180 seconds" in str(caught.value)
    arm.expire_reservations()
    assert provider.launch(launch_spec).state is InstanceState.RUNNING
