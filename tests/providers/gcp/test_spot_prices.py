"""The GCP price-only refresh against the fake server: Billing Catalog SKUs only, no Compute API.

GCE has no per-zone spot price feed: a pool's spot price is assembled from per-region unit SKUs
(host cores + RAM + GPUs), so the price refresh re-reads the SKUs and re-prices the known shapes,
while zones, machine types and accelerator types belong to the daily instance-type refresh.
"""

from __future__ import annotations

from typing import Any

import pytest

from providers.base import Offer, OfferQuery
from providers.errors import ProviderError
from tests.providers.gcp.fake_billing import _money
from tests.providers.gcp.fake_gce import FakeGCE

T4_SPOT_SKU = "Spot Preemptible Nvidia Tesla T4 GPU running in Americas"


def _spot_pools(provider: Any) -> list[Offer]:
    return [o for o in provider.list_offers(OfferQuery()) if o.spot]


def test_price_refresh_reads_only_billing_skus_and_reprices_known_pools(provider: Any, gce: FakeGCE) -> None:
    pools = _spot_pools(provider)
    gce.requests.clear()
    sku = next(s for s in gce.skus if s["description"] == T4_SPOT_SKU)
    old = float(sku["pricingInfo"][0]["pricingExpression"]["tieredRates"][-1]["unitPrice"]["nanos"]) / 1e9
    sku["pricingInfo"][0]["pricingExpression"]["tieredRates"][-1]["unitPrice"] = _money(old + 0.05)
    quotes = {(q.zone, q.instance_type): q.price_per_hour for q in provider.spot_prices(pools)}
    assert set(gce.requests) == {"skus.list"}  # no zones, machine types or accelerator types
    assert set(quotes) == {(p.zone, p.instance_type) for p in pools}
    moved = 0
    for pool in pools:
        expected = pool.price_per_hour
        if pool.gpu_model == "T4" and pool.region == "us-central1":
            expected += 0.05 * pool.gpu_count
            moved += 1
        assert quotes[(pool.zone, pool.instance_type)] == pytest.approx(expected)
    assert moved > 0
    assert provider.spot_prices([o for o in provider.list_offers(OfferQuery()) if not o.spot]) == []


def test_billing_down_fails_the_price_refresh_instead_of_falling_back(provider: Any, gce: FakeGCE) -> None:
    pools = _spot_pools(provider)
    gce.billing_down = True
    with pytest.raises(ProviderError):
        provider.spot_prices(pools)
    assert _spot_pools(provider)  # the full listing still answers (from its cached or fallback prices)
