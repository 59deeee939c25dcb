"""Launch, describe, list and terminate against the fake ARM server: idempotency, the Spot request,
capacity and throttling errors, eviction, cleanup."""

from __future__ import annotations

import base64

import pytest

from providers.azure import AzureProvider
from providers.azure.launch import nic_name, os_disk_name, vm_name
from providers.base import TAG_ATTEMPT, TAG_CLUSTER, TAG_JOB, InstanceState
from providers.errors import CapacityError, ErrorScope, ThrottledError, TransientError
from tests.providers.azure.conftest import StaticCredential, make_config
from tests.providers.azure.fake_arm import FakeArm
from tests.providers.azure.helpers import offer, spec

VMS = "/Microsoft.Compute/virtualMachines/"


def test_vm_name_is_deterministic_and_fits_azure_limits() -> None:
    name = vm_name("attempt-42:" + "x" * 300)
    assert name == vm_name("attempt-42:" + "x" * 300) != vm_name("attempt-43")
    assert len(name) <= 64 and name.replace("-", "").isalnum() and name.islower()


def test_same_key_returns_the_same_vm_even_from_a_restarted_daemon(
    provider: AzureProvider, arm: FakeArm, sleeps: list[float]
) -> None:
    launch_spec = spec(offer(provider))
    first = provider.launch(launch_spec)
    restarted = AzureProvider(make_config(arm), credential=StaticCredential(), sleep=sleeps.append)
    second = restarted.launch(launch_spec)
    assert first.id == second.id == vm_name(launch_spec.idempotency_key)
    assert list(arm.state.vms) == [first.id]
    assert arm.count("PUT", VMS) == 1


def test_spot_request_body_zone_tags_and_custom_data(provider: AzureProvider, arm: FakeArm) -> None:
    launch_spec = spec(offer(provider, zone="eastus-2"))
    info = provider.launch(launch_spec)
    vm = arm.state.vms[info.id]
    props = vm["properties"]
    assert (props["priority"], props["evictionPolicy"], props["billingProfile"]) == (
        "Spot",
        "Delete",
        {"maxPrice": -1},
    )
    assert vm["zones"] == ["2"] and info.zone == "eastus-2" and info.spot
    assert props["storageProfile"]["imageReference"]["publisher"] == "microsoft-dsvm"
    expected = {TAG_CLUSTER: "c1", TAG_JOB: launch_spec.job_id, TAG_ATTEMPT: launch_spec.attempt_id}
    for resource in (vm, arm.state.nics[nic_name(info.id)], arm.state.disks[os_disk_name(info.id)]):
        assert expected.items() <= resource["tags"].items()
    assert info.state is InstanceState.RUNNING and info.price_per_hour == pytest.approx(0.746721)


def test_custom_data_starts_the_agent_for_this_attempt(provider: AzureProvider, arm: FakeArm) -> None:
    captured: list[dict] = []
    original = arm._vm

    def spy(method, p, q, payload, base, path):  # type: ignore[no-untyped-def]
        if method == "PUT":
            captured.append(payload)
        return original(method, p, q, payload, base, path)

    arm._vm = spy  # type: ignore[method-assign]
    try:
        launch_spec = spec(offer(provider))
        provider.launch(launch_spec)
    finally:
        del arm._vm
    script = base64.b64decode(captured[0]["properties"]["osProfile"]["customData"]).decode()
    assert launch_spec.attempt_id in script and "SPOTWISE_NOTICE=azure" in script


def test_price_cap_is_sent_as_max_price(provider: AzureProvider, arm: FakeArm) -> None:
    info = provider.launch(spec(offer(provider), max_price=1.25))
    assert arm.state.vms[info.id]["properties"]["billingProfile"] == {"maxPrice": 1.25}


def test_regional_location_sends_no_zone(provider: AzureProvider, arm: FakeArm) -> None:
    info = provider.launch(spec(offer(provider, zone="westus")))
    assert "zones" not in arm.state.vms[info.id] and info.zone == "westus"


def test_sku_not_available_is_a_pool_capacity_error_and_leaves_nothing(
    provider: AzureProvider, arm: FakeArm
) -> None:
    arm.fail_next("PUT", VMS, 409, "SkuNotAvailable", "The requested size is not available in zone 1.")
    with pytest.raises(CapacityError) as caught:
        provider.launch(spec(offer(provider)))
    assert caught.value.scope is ErrorScope.POOL and caught.value.raw_code == "SkuNotAvailable"
    assert arm.state.vms == {} and arm.state.nics == {}


@pytest.mark.parametrize(
    "code", ["AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest"]
)
def test_async_allocation_failure_is_capacity_and_the_failed_vm_is_removed(
    provider: AzureProvider, arm: FakeArm, code: str
) -> None:
    arm.state.polls_per_operation = 2  # the failure arrives only after polling
    arm.fail_allocation(code)
    with pytest.raises(CapacityError) as caught:
        provider.launch(spec(offer(provider)))
    assert caught.value.raw_code == code and caught.value.scope is ErrorScope.POOL
    assert arm.count("GET", "/fake/operations/") >= 3
    assert arm.state.vms == {} and arm.state.disks == {}  # ARM holds the NIC 180 s: test_azure_leftovers


def test_throttling_is_retried_honouring_retry_after(
    provider: AzureProvider, arm: FakeArm, sleeps: list[float]
) -> None:
    arm.fail_next("PUT", VMS, 429, "TooManyRequests", headers={"Retry-After": "7"}, times=2)
    info = provider.launch(spec(offer(provider)))
    assert info.state is InstanceState.RUNNING
    assert arm.count("PUT", VMS) == 3
    assert sleeps == [7.0, 7.0]


def test_throttling_surfaces_when_retries_run_out(
    provider: AzureProvider, arm: FakeArm, sleeps: list[float]
) -> None:
    arm.fail_next("PUT", VMS, 429, "SubscriptionRequestsThrottled", headers={"Retry-After": "1"}, times=99)
    with pytest.raises(ThrottledError):
        provider.launch(spec(offer(provider)))
    assert arm.count("PUT", VMS) == provider.config.retry_attempts
    assert len(sleeps) == provider.config.retry_attempts - 1


def test_eviction_with_delete_policy_is_reported_as_preempted(provider: AzureProvider, arm: FakeArm) -> None:
    info = provider.launch(spec(offer(provider)))
    arm.evict(info.id)
    [described] = provider.describe([info.id])
    assert described.state is InstanceState.TERMINATED and described.preempted
    assert described.tags[TAG_CLUSTER] == "c1" and described.region == "eastus"
    [listed] = provider.list_managed("c1")  # the NIC the eviction left, reported as a gone instance
    assert (listed.id, listed.state, listed.preempted) == (info.id, InstanceState.TERMINATED, True)
    provider.terminate([info.id])  # cleans up the NIC the eviction left
    assert arm.state.nics == {}


def test_eviction_with_deallocate_policy_is_reported_as_preempted(
    provider: AzureProvider, arm: FakeArm
) -> None:
    info = provider.launch(spec(offer(provider)))
    arm.evict(info.id, policy="Deallocate")
    [managed] = provider.list_managed("c1")
    assert managed.state is InstanceState.STOPPED and managed.preempted
    assert managed.state_reason == "PowerState/deallocated"


def test_our_own_terminate_is_not_an_eviction(provider: AzureProvider, arm: FakeArm) -> None:
    info = provider.launch(spec(offer(provider)))
    arm.fail_next("DELETE", "/networkInterfaces/", 500, "InternalServerError", times=99)  # NIC lingers
    with pytest.raises(TransientError):
        provider.terminate([info.id])
    [described] = provider.describe([info.id])
    assert described.state is InstanceState.TERMINATED and not described.preempted


def test_terminate_deletes_vm_nic_and_disk(provider: AzureProvider, arm: FakeArm) -> None:
    info = provider.launch(spec(offer(provider)))
    assert arm.state.disks and arm.state.nics
    provider.terminate([info.id])
    assert arm.state.vms == {} and arm.state.nics == {} and arm.state.disks == {}
    for path in (
        f"{VMS}{info.id}",
        f"/networkInterfaces/{nic_name(info.id)}",
        f"/disks/{os_disk_name(info.id)}",
    ):
        assert arm.count("DELETE", path) == 1, path
    provider.terminate([info.id])  # idempotent: ARM answers 204 for what is gone


def test_list_managed_pages_through_the_listing(provider: AzureProvider, arm: FakeArm) -> None:
    arm.state.vm_page_size = 2
    launched = {provider.launch(spec(offer(provider))).id for _ in range(5)}
    provider.launch(spec(offer(provider), cluster="someone-else"))
    listed = provider.list_managed("c1")
    assert {i.id for i in listed} == launched
    assert all(i.state is InstanceState.RUNNING for i in listed)
    assert arm.count("GET", "/Microsoft.Compute/virtualMachines") - arm.count("GET", VMS) == 3  # 6 VMs / 2


def test_a_job_that_sizes_its_disk_gets_that_os_disk_size(provider: AzureProvider, arm: FakeArm) -> None:
    """A SkyPilot task's `disk_size` (JobSpec resources.disk_gb) sizes the OS disk; otherwise os_disk_gb."""
    import dataclasses

    sized = provider.launch(dataclasses.replace(spec(offer(provider)), disk_gb=512))
    plain = provider.launch(spec(offer(provider)))
    disk = {i: arm.state.vms[i]["properties"]["storageProfile"]["osDisk"]["diskSizeGB"] for i in (sized.id, plain.id)}
    assert disk == {sized.id: 512, plain.id: provider.config.os_disk_gb}
