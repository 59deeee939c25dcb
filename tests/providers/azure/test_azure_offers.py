"""Offers from resource SKUs and retail prices: GPU names, restrictions, paging, offline fallback."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from providers.azure import AzureProvider
from providers.azure.offers import gpu_family
from providers.azure.pricing import PriceFetchError, iter_retail_items, load_catalog
from providers.base import OfferQuery
from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.conftest import SHARED_CATALOG, StaticCredential, make_config
from tests.providers.azure.fake_arm import FakeArm


@pytest.mark.parametrize(
    ("size", "model"),
    [
        ("Standard_NC24ads_A100_v4", "A100-80GB"),
        ("Standard_ND96amsr_A100_v4", "A100-80GB"),
        ("Standard_ND96asr_v4", "A100"),
        ("Standard_NC6s_v3", "V100"),
        ("Standard_NC24rs_v3", "V100"),
        ("Standard_ND40rs_v2", "V100-32GB"),
        ("Standard_NC4as_T4_v3", "T4"),
        ("Standard_NV36ads_A10_v5", "A10"),
        ("Standard_NC40ads_H100_v5", "H100"),
        ("Standard_ND96isr_H100_v5", "H100"),
        ("Standard_ND96isr_H200_v5", "H200"),
        ("Standard_NC6", "K80"),
        ("Standard_NV12s_v3", "M60"),
        ("Standard_D2s_v3", None),
        ("Standard_E64s_v5", None),
    ],
)
def test_gpu_model_from_size_name(size: str, model: str | None) -> None:
    family = gpu_family(size)
    assert (family[0] if family else None) == model


def test_gpu_names_agree_with_the_real_catalog() -> None:
    if not SHARED_CATALOG.is_file():
        pytest.skip(f"shared catalog not present at {SHARED_CATALOG}")
    import csv

    mismatches = []
    with SHARED_CATALOG.open(newline="") as handle:
        for row in csv.DictReader(handle):
            family = gpu_family(row["InstanceType"])
            if row["AcceleratorName"] and family and family[0] != row["AcceleratorName"]:
                mismatches.append((row["InstanceType"], row["AcceleratorName"], family[0]))
    assert mismatches == []


def test_offers_apply_restrictions_zones_and_markets(provider: AzureProvider) -> None:
    offers = provider.list_offers(OfferQuery())
    pools = {(o.region, o.zone, o.instance_type, o.spot) for o in offers}
    assert ("eastus", "eastus-3", "Standard_NC24ads_A100_v4", True) not in pools  # zone restriction
    assert ("eastus", "eastus-2", "Standard_NC24ads_A100_v4", True) in pools
    assert not any(
        o.region == "westeurope" and "H100" in o.instance_type for o in offers
    )  # NotAvailableForSubscription
    assert ("westus", "westus", "Standard_NC4as_T4_v3", False) in pools  # regional location: zone = location
    h100 = next(o for o in offers if o.instance_type == "Standard_ND96isr_H100_v5" and o.spot)
    assert (h100.gpu_model, h100.gpu_count, h100.gpu_memory_gb, h100.vcpus) == ("H100", 8, 640.0, 96.0)
    assert h100.on_demand_price == pytest.approx(98.32) and h100.source == "live"


def test_gpu_query_filters_by_model(provider: AzureProvider) -> None:
    offers = provider.list_offers(OfferQuery(gpu_model="t4", spot=True))
    assert (
        offers
        and {o.instance_type for o in offers} == {"Standard_NC4as_T4_v3"}
        and all(o.spot for o in offers)
    )


def test_retail_prices_are_paged_and_filtered(provider: AzureProvider, arm: FakeArm) -> None:
    arm.state.price_page_size = 3
    offers = provider.list_offers(OfferQuery(regions=("eastus",)))
    expected_pages = math.ceil(len(data.retail_items("eastus")) / 3)
    assert arm.count("GET", "/api/retail/prices") == expected_pages > 1
    t4 = {o.spot: o.price_per_hour for o in offers if o.instance_type == "Standard_NC4as_T4_v3"}
    assert t4 == {True: pytest.approx(0.204246), False: pytest.approx(0.526)}  # not Windows, not Low Priority
    provider.list_offers(OfferQuery(regions=("eastus",)))
    assert arm.count("GET", "/api/retail/prices") == expected_pages  # cached for the TTL


def test_next_page_link_to_another_host_is_refused() -> None:
    fetched: list[str] = []

    def get_json(url: str) -> dict:
        fetched.append(url)
        return {"Items": [{"armSkuName": "x"}], "NextPageLink": "https://evil.example/api?$skip=1"}

    with pytest.raises(PriceFetchError, match="another host"):
        list(iter_retail_items("https://prices.example/api", "eastus", get_json=get_json))
    assert len(fetched) == 1 and fetched[0].startswith("https://prices.example/api?")


def test_prices_fall_back_to_the_builtin_table(arm: FakeArm, sleeps: list[float]) -> None:
    arm.state.prices_down = True
    provider = AzureProvider(make_config(arm), credential=StaticCredential(), sleep=sleeps.append)
    offers = provider.list_offers(OfferQuery(gpu_model="A100-80GB", regions=("eastus",), spot=True))
    assert offers and all(o.source == "catalog" for o in offers)
    assert offers[0].price_per_hour == pytest.approx(0.746721)
    assert "503" in provider.prices.last_error


def test_prices_fall_back_to_an_imported_catalog(arm: FakeArm, sleeps: list[float], tmp_path: Path) -> None:
    catalog = tmp_path / "vms.csv"
    catalog.write_text(
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,Generation\n"
        "Standard_NC4as_T4_v3,T4,1,4,28,T4,0.6,0.3,westus,V1,V2\n"
        "Standard_NC24ads_A100_v4,A100-80GB,1,24,220,A100-80GB,3.9,,westus,V2\n"
    )
    arm.state.prices_down = True
    provider = AzureProvider(
        make_config(arm, catalog_path=str(catalog)), credential=StaticCredential(), sleep=sleeps.append
    )
    offers = provider.list_offers(OfferQuery(regions=("westus",)))
    prices = {(o.instance_type, o.spot): o.price_per_hour for o in offers}
    assert prices == {
        ("Standard_NC4as_T4_v3", True): 0.3,
        ("Standard_NC4as_T4_v3", False): 0.6,
        ("Standard_NC24ads_A100_v4", False): 3.9,
    }  # no spot price in the catalog: no spot offer


def test_real_skypilot_catalog_parses_despite_the_unquoted_generation_field() -> None:
    if not SHARED_CATALOG.is_file():
        pytest.skip(f"shared catalog not present at {SHARED_CATALOG}")
    table = load_catalog(SHARED_CATALOG)
    assert table[("eastus", "Standard_NC24ads_A100_v4")] == (3.673, 0.746721)
    assert table[("eastus", "Standard_NC4as_T4_v3")] == (0.526, 0.204246)  # a `V1,V2` row
    assert len(table) > 50_000


@pytest.mark.parametrize(
    "size",
    ["Standard_NV6ads_A10_v5", "Standard_NV36ads_A10_v5", "Standard_ND96isr_MI300X_v5", "Standard_NV32as_v4"],
)
def test_sizes_the_image_cannot_drive_are_not_offered(provider: AzureProvider, size: str) -> None:
    """NVadsA10 v5 needs the GRID driver, MI300X and MI25 are AMD: the fake's SKU listing has them with
    prices, and no offer (not even a CPU-only one) comes out."""
    assert any(s["name"] == size for s in data.resource_skus("eastus"))
    assert size not in {o.instance_type for o in provider.list_offers(OfferQuery(regions=("eastus",)))}
    assert provider.list_offers(OfferQuery(gpu_model="A10")) == []
