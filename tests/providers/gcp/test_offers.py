"""Offers: shapes from the Compute API, prices assembled from billing SKUs (GPU + host), fallbacks."""

from __future__ import annotations

from typing import Any

import pytest

from providers.base import Offer, OfferQuery
from providers.gcp.catalog import VmsCatalog
from providers.gcp.shapes import Shape
from tests.providers.gcp.conftest import SHARED_CATALOG
from tests.providers.gcp.fake_billing import expected_price
from tests.providers.gcp.fake_gce import FakeGCE


def _by_pool(offers: list[Offer]) -> dict[tuple[str, str, bool], Offer]:
    return {(o.zone, o.instance_type, o.spot): o for o in offers}


@pytest.mark.parametrize(
    ("zone", "instance_type", "family", "vcpus", "memory_gb", "gpu", "count", "spot"),
    [
        ("us-central1-a", "g2-standard-4", "g2", 4, 16, "L4", 1, True),
        ("us-central1-a", "a2-ultragpu-1g", "a2", 12, 170, "A100-80GB", 1, True),
        ("us-central1-a", "a3-highgpu-8g", "a3", 208, 1872, "H100", 8, False),
        ("europe-west4-a", "n1-standard-16+nvidia-tesla-t4:2", "n1", 16, 60, "T4", 2, False),
        ("europe-west4-a", "n1-standard-64+nvidia-tesla-v100:8", "n1", 64, 240, "V100", 8, True),
    ],
)
def test_billing_price_is_gpu_plus_host(provider: Any, zone: str, instance_type: str, family: str, vcpus: int,
                                        memory_gb: float, gpu: str, count: int, spot: bool) -> None:
    offer = _by_pool(provider.list_offers(OfferQuery()))[(zone, instance_type, spot)]
    region = zone.rsplit("-", 1)[0]
    assert offer.price_per_hour == pytest.approx(expected_price(region, family, vcpus, memory_gb, gpu, count, spot))
    assert offer.on_demand_price == pytest.approx(
        expected_price(region, family, vcpus, memory_gb, gpu, count, False))
    assert (offer.gpu_model, offer.gpu_count, offer.vcpus) == (gpu, count, vcpus)
    assert offer.source == "live" and offer.region == region


def test_distractor_skus_are_ignored(provider: Any) -> None:
    """Commitment and virtual-workstation T4 SKUs follow the real one in the feed; they must not win."""
    offer = _by_pool(provider.list_offers(OfferQuery()))[("us-central1-a", "n1-standard-8+nvidia-tesla-t4:1", False)]
    assert offer.price_per_hour == pytest.approx(expected_price("us-central1", "n1", 8, 30, "T4", 1, False))


def test_shapes_follow_the_zone(provider: Any) -> None:
    offers = provider.list_offers(OfferQuery())
    types = {(o.zone, o.instance_type) for o in offers}
    assert ("us-central1-b", "a3-highgpu-8g") not in types  # not in that zone
    assert ("us-central1-a", "n1-standard-64+nvidia-tesla-t4:8") not in types  # T4 allows 4 per VM
    assert ("us-central1-a", "n1-standard-32+nvidia-tesla-t4:4") in types
    assert not any(o.instance_type.startswith("e2-") for o in offers)  # no GPU, not offered
    assert {o.gpu_model for o in offers} == {"T4", "V100", "A100", "A100-80GB", "H100", "L4"}


def test_query_filters(provider: Any) -> None:
    offers = provider.list_offers(OfferQuery(gpu_model="l4", regions=("us-central1",), spot=False))
    assert offers and all(o.gpu_model == "L4" and o.region == "us-central1" and not o.spot for o in offers)


def test_shapes_and_prices_are_cached(provider: Any, gce: FakeGCE) -> None:
    provider.list_offers(OfferQuery())
    calls = dict(gce.requests)
    provider.list_offers(OfferQuery(spot=True))
    assert dict(gce.requests) == calls


def test_billing_catalog_is_paged(provider: Any, gce: FakeGCE) -> None:
    gce.billing_page_cap = 7
    provider.list_offers(OfferQuery())
    assert gce.requests["skus.list"] == -(-len(gce.skus) // 7)


def test_configured_zones_limit_the_calls(make_provider: Any, gce: FakeGCE) -> None:
    offers = make_provider(zones=["us-central1-b"]).list_offers(OfferQuery())
    assert {o.zone for o in offers} == {"us-central1-b"}
    assert gce.requests["machineTypes.list"] == 1 and gce.requests["zones.list"] == 0


def test_billing_down_falls_back_to_builtin_prices(provider: Any, gce: FakeGCE) -> None:
    gce.billing_down = True
    offers = provider.list_offers(OfferQuery(gpu_model="L4"))
    assert offers and all(o.source == "catalog" and o.price_per_hour > 0 for o in offers)
    spot = _by_pool(offers)[("us-central1-a", "g2-standard-4", True)]
    assert spot.price_per_hour < spot.on_demand_price


@pytest.mark.skipif(not SHARED_CATALOG.exists(), reason=f"shared GCP catalog not present at {SHARED_CATALOG}")
def test_imported_vms_csv_adds_accelerator_rows_to_host_rows(make_provider: Any) -> None:
    catalog = VmsCatalog.load(SHARED_CATALOG)
    host_od, host_spot = catalog.hosts[("g2-standard-4", "us-central1-a")]
    gpu_od, gpu_spot = catalog.gpus[("L4", 1, "us-central1-a")]
    shape = Shape("g2-standard-4", 4, 16, "L4", 1)
    assert catalog.quote("us-central1", "us-central1-a", shape, True) == pytest.approx(host_spot + gpu_spot)
    provider = make_provider(use_billing=False, catalog_path=str(SHARED_CATALOG))
    offer = _by_pool(provider.list_offers(OfferQuery(gpu_model="L4")))[("us-central1-a", "g2-standard-4", False)]
    assert offer.price_per_hour == pytest.approx(host_od + gpu_od) and offer.source == "catalog"
    t4 = Shape("n1-standard-8", 8, 30, "T4", 1, attached_accelerator="nvidia-tesla-t4")
    n1_od, _ = catalog.hosts[("n1-standard-8", "us-central1-a")]
    assert catalog.quote("us-central1", "us-central1-a", t4, False) == pytest.approx(
        n1_od + catalog.gpus[("T4", 1, "us-central1-a")][0])
