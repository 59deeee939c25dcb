"""Spot refusals ARM answers at create time fail over to another pool instead of failing the job: a
price cap below the pool's Spot price (PriceError) and a size that sells no Spot (CapacityError),
both at pool scope, with the failed launch's NIC removed."""

from __future__ import annotations

import pytest

from providers.azure import AzureProvider
from providers.base import OfferQuery
from providers.errors import CapacityError, ErrorScope, PriceError
from tests.providers.azure.fake_arm import FakeArm
from tests.providers.azure.helpers import offer, spec


def test_max_price_below_the_spot_price_is_a_pool_price_error(provider: AzureProvider, arm: FakeArm) -> None:
    pool = offer(provider)  # A100 in eastus, Spot at 0.746721/h in the fake's price list
    with pytest.raises(PriceError) as caught:
        provider.launch(spec(pool, max_price=0.5))
    assert caught.value.raw_code == "SpotPriceGreaterThanProvidedMaxPrice"
    assert caught.value.scope is ErrorScope.POOL
    assert "lower than the current spot price" in str(caught.value)
    assert arm.state.vms == {} and arm.state.nics == {}


def test_size_that_no_longer_sells_spot_is_a_pool_capacity_error(provider: AzureProvider, arm: FakeArm) -> None:
    pool = offer(provider)  # offered while the SKU listing still said LowPriorityCapable
    arm.state.spot_incapable.add(pool.instance_type)
    with pytest.raises(CapacityError) as caught:
        provider.launch(spec(pool))
    assert caught.value.raw_code == "AzureSpotIsNotSupportedForThisVMSize"
    assert caught.value.scope is ErrorScope.POOL
    assert arm.state.vms == {} and arm.state.nics == {}
    fresh = provider.list_offers(OfferQuery(regions=("eastus",), spot=True))
    assert pool.instance_type not in {o.instance_type for o in fresh}  # the next listing stops offering it
