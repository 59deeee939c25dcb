"""vCPU quotas read with `usage.list` keep pools a launch would hit a quota wall in out of the offers:
Spot sizes against the regional Spot quota (lowPriorityCores), regular ones against their family and the
regional total. The fake counts usage from its live VMs and refuses an over-quota create as ARM does."""

from __future__ import annotations

import pytest

from providers.azure import AzureProvider
from providers.base import OfferQuery
from providers.errors import QuotaError
from tests.providers.azure.fake_arm import FakeArm
from tests.providers.azure.helpers import offer, spec

A100 = "Standard_NC24ads_A100_v4"  # 24 vCPUs
T4 = "Standard_NC4as_T4_v3"  # 4 vCPUs


def _sizes(provider: AzureProvider, spot: bool) -> set[str]:
    return {o.instance_type for o in provider.list_offers(OfferQuery(regions=("eastus",), spot=spot))}


def test_arm_refuses_a_spot_vm_over_the_spot_quota(provider: AzureProvider, arm: FakeArm) -> None:
    """The fake is faithful: over the limit is OperationNotAllowed with the quota in the message."""
    pool = offer(provider, size=A100)
    arm.state.quota_limits[("eastus", "lowPriorityCores")] = 8
    with pytest.raises(QuotaError) as caught:
        provider.launch(spec(pool))
    assert caught.value.raw_code == "OperationNotAllowed" and "LowPriorityCores quota" in str(caught.value)


def test_spot_offers_that_exceed_the_spot_quota_are_left_out(provider: AzureProvider, arm: FakeArm) -> None:
    arm.state.quota_limits[("eastus", "lowPriorityCores")] = 8
    spot = _sizes(provider, spot=True)
    assert T4 in spot and A100 not in spot  # 4 vCPUs fit in 8, 24 do not
    assert A100 in _sizes(provider, spot=False)  # regular VMs draw on other quotas
    assert {o.region for o in provider.list_offers(OfferQuery(gpu_model="A100-80GB", spot=True))} == {
        "westus", "westeurope"}  # other locations keep their quota


def test_usage_of_running_vms_counts(provider: AzureProvider, arm: FakeArm) -> None:
    arm.state.quota_limits[("eastus", "lowPriorityCores")] = 30
    provider.launch(spec(offer(provider, size=A100)))  # 24 of 30 in use
    spot = _sizes(provider, spot=True)
    assert T4 in spot and A100 not in spot


def test_regular_offers_need_their_family_and_the_regional_total(provider: AzureProvider, arm: FakeArm) -> None:
    arm.state.quota_limits[("eastus", "StandardNCADSA100v4Family")] = 0  # a new subscription's GPU quota
    regular = _sizes(provider, spot=False)
    assert A100 not in regular and T4 in regular
    assert A100 in _sizes(provider, spot=True)
    arm.state.quota_limits[("eastus", "cores")] = 2
    assert _sizes(provider, spot=False) == {"Standard_D2s_v3"}


def test_unreadable_quotas_filter_nothing(provider: AzureProvider, arm: FakeArm) -> None:
    arm.fail_next("GET", "/usages", 403, "AuthorizationFailed", times=99)
    arm.state.quota_limits[("eastus", "lowPriorityCores")] = 0
    assert A100 in _sizes(provider, spot=True)  # a launch still learns the quota the old way
