"""The Azure price-only refresh against the fake: the Retail Prices API only, no ARM call.

Sizes, zones and restrictions (resource SKUs) belong to the daily instance-type refresh; spot prices
come from a separate public API, which is all the 10-minute price refresh reads.
"""

from __future__ import annotations

import pytest

from providers.azure import AzureProvider
from providers.base import OfferQuery
from providers.errors import ProviderError
from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.fake_arm import FakeArm


def test_price_refresh_reads_only_retail_prices(provider: AzureProvider, arm: FakeArm,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pools = [o for o in provider.list_offers(OfferQuery()) if o.spot]
    assert pools
    arm.state.requests.clear()
    on_demand, _ = data.PRICES[("eastus", "Standard_NC4as_T4_v3")]
    monkeypatch.setitem(data.PRICES, ("eastus", "Standard_NC4as_T4_v3"), (on_demand, 0.1711))
    quotes = {(q.zone, q.instance_type): q.price_per_hour for q in provider.spot_prices(pools)}
    assert arm.state.requests and all("/api/retail/prices" in path for _, path in arm.state.requests)
    assert len(arm.state.requests) >= len({p.region for p in pools})  # every location asked (pages follow)
    assert set(quotes) == {(p.zone, p.instance_type) for p in pools}
    for pool in pools:
        expected = 0.1711 if (pool.region, pool.instance_type) == ("eastus", "Standard_NC4as_T4_v3") \
            else data.PRICES[(pool.region, pool.instance_type)][1]
        assert quotes[(pool.zone, pool.instance_type)] == pytest.approx(expected)


def test_retail_prices_down_fails_the_price_refresh(provider: AzureProvider, arm: FakeArm) -> None:
    pools = [o for o in provider.list_offers(OfferQuery()) if o.spot]
    arm.state.prices_down = True
    with pytest.raises(ProviderError, match="retail prices unavailable"):
        provider.spot_prices(pools)
