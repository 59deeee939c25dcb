"""Offers against moto: real GpuInfo and zone offerings, injected spot and on-demand prices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from providers.aws import AWSProvider
from providers.aws.pricing import BUILTIN_ON_DEMAND
from providers.base import OfferQuery
from tests.providers.aws.conftest import ON_DEMAND_PRICES, REGION, SPOT_PRICES, Injector, ec2_error, response


def test_injected_spot_prices_show_up_latest_per_pool(provider: AWSProvider, injector: Injector) -> None:
    offers = provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=True))
    seen = {(o.instance_type, o.zone): o.price_per_hour for o in offers}
    expected = {k: v for k, v in SPOT_PRICES.items() if k[0].startswith("g5.")}
    assert seen == pytest.approx(expected)  # the older, higher price of each pool is ignored
    # Three pools x two entries = 10 items at 3 per page: the paginator followed every page.
    assert injector.count("ec2", "DescribeSpotPriceHistory") == 4
    sent = injector.bodies[("ec2", "DescribeSpotPriceHistory")][0]
    assert sent["ProductDescription.1"] == ["Linux/UNIX"]
    cheapest = min(offers, key=lambda o: o.price_per_hour)
    assert (cheapest.zone, cheapest.gpu_model, cheapest.gpu_count) == ("us-east-1b", "A10G", 1)
    assert cheapest.on_demand_price == pytest.approx(ON_DEMAND_PRICES["g5.xlarge"])
    assert cheapest.vcpus == 4 and cheapest.memory_gb == 16 and cheapest.source == "live"


def test_a100_80gb_is_its_own_model(provider: AWSProvider) -> None:
    offers = provider.list_offers(OfferQuery(gpu_model="A100-80GB", regions=(REGION,)))
    assert {o.instance_type for o in offers} == {"p4de.24xlarge"}
    spot = [o for o in offers if o.spot]
    assert [(o.zone, o.price_per_hour) for o in spot] == [("us-east-1b", pytest.approx(16.3863))]
    on_demand = [o for o in offers if not o.spot]
    assert on_demand and all(o.price_per_hour == pytest.approx(27.45) and o.source == "live" for o in on_demand)


def test_on_demand_falls_back_to_the_builtin_table(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    del injector.handlers[("pricing", "GetProducts")]  # moto answers the Pricing API with a 500
    provider = make_provider(max_attempts=1)
    offers = provider.list_offers(OfferQuery(gpu_model="A10G", regions=(REGION,), spot=False))
    assert offers and all(not o.spot and o.source == "catalog" for o in offers)
    assert {o.instance_type: o.price_per_hour for o in offers}["g5.xlarge"] == BUILTIN_ON_DEMAND["g5.xlarge"]
    # After one failure the API is left alone for a while instead of once per type.
    assert injector.count("pricing", "GetProducts") == 1


def test_type_shapes_and_offerings_are_cached_prices_are_not(provider: AWSProvider, injector: Injector) -> None:
    query = OfferQuery(gpu_model="A10G", regions=(REGION,), spot=True)
    provider.list_offers(query)
    provider.list_offers(query)
    assert injector.count("ec2", "DescribeInstanceTypes") == 1
    assert injector.count("ec2", "DescribeInstanceTypeOfferings") == 1
    assert injector.count("ec2", "DescribeSpotPriceHistory") == 8


def test_every_region_is_asked_and_a_failing_region_is_skipped(
    make_provider: Callable[..., AWSProvider], injector: Injector
) -> None:
    provider = make_provider(regions=(REGION, "us-west-2"), max_attempts=1)

    def deny_west(request: Any) -> Any:
        # With one endpoint for every region, the region shows only in the signature's credential scope.
        signed_for_west = "/us-west-2/ec2/" in request.headers["Authorization"].decode()
        return ec2_error(request, "UnauthorizedOperation", 403) if signed_for_west else None

    injector.on("ec2", "DescribeInstanceTypes", deny_west)
    offers = provider.list_offers(OfferQuery(gpu_model="A10G"))
    assert offers and {o.region for o in offers} == {REGION}
    assert injector.count("ec2", "DescribeInstanceTypes") == 2  # both regions were asked


def test_placement_scores_map_zone_ids_to_names(
    make_provider: Callable[..., AWSProvider], injector: Injector, endpoint: str
) -> None:
    import boto3

    zones = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION).describe_availability_zones()
    zone_id = {z["ZoneName"]: z["ZoneId"] for z in zones["AvailabilityZones"]}
    items = "".join(
        f"<item><region>{REGION}</region><availabilityZoneId>{zone_id[name]}</availabilityZoneId>"
        f"<score>{score}</score></item>"
        for name, score in (("us-east-1a", 3), ("us-east-1b", 9))
    )
    body = ('<GetSpotPlacementScoresResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f"<requestId>x</requestId><spotPlacementScoreSet>{items}</spotPlacementScoreSet>"
            "</GetSpotPlacementScoresResponse>")
    injector.on("ec2", "GetSpotPlacementScores", lambda request: response(request, 200, body))
    assert make_provider().placement_scores(["g5.xlarge"]) == {}  # off unless configured
    scores = make_provider(placement_scores=True).placement_scores(["g5.xlarge"])
    assert scores == {(REGION, "us-east-1a"): 3, (REGION, "us-east-1b"): 9}
    assert injector.bodies[("ec2", "GetSpotPlacementScores")][-1]["SingleAvailabilityZone"] == ["true"]
