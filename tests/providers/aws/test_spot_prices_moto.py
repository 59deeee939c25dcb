"""The AWS price-only refresh against moto: DescribeSpotPriceHistory and nothing else.

A full listing asks for instance types, zone offerings, on-demand prices and spot history; the
10-minute price refresh must ask only for spot history, batched per 100 types, and must only
reprice the pools the daily type refresh found.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.catalog.pricing import LIVE_PRICES, load_offers, refresh_due, source_view
from orchestrator.config import Settings
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Alert, PriceSource
from orchestrator.store.types import utcnow
from providers.aws import AWSProvider
from providers.base import Offer
from providers.errors import ProviderError
from tests.providers.aws.conftest import REGION, SPOT_PRICES, Injector, ec2_error, spot_history_xml

NEW_PRICES = {pool: round(price * 0.8, 4) for pool, price in SPOT_PRICES.items()}


@pytest.fixture
def rt(make_provider: Callable[..., AWSProvider], tmp_path: Path) -> Iterator[Runtime]:
    """A runtime whose only provider is AWS on moto (on-demand prices from the built-in table: faster)."""
    runtime = build_runtime(Settings(home=tmp_path, providers={}, price_alert_after_failures=2),
                            with_providers=False)
    runtime.providers = {"aws": make_provider(use_pricing_api=False)}
    yield runtime
    runtime.close()


def _prices_due(rt: Runtime) -> None:
    """As if the spot price interval had passed."""
    with transaction(rt.sessions) as s:
        row = s.get_one(PriceSource, ("aws", LIVE_PRICES))
        assert row.attempted_at is not None
        row.attempted_at -= timedelta(seconds=rt.settings.spot_price_refresh_seconds + 1)


def _offers(rt: Runtime) -> dict[tuple[str, str, str, str, bool], Offer]:
    with transaction(rt.sessions) as s:
        return {o.pool: o for o in load_offers(s)}


def test_price_refresh_calls_only_spot_price_history_and_keeps_the_pools(rt: Runtime, injector: Injector) -> None:
    assert isinstance(refresh_due(rt)["aws"], int)  # the first pass lists types, offerings and prices
    before = _offers(rt)
    spot = {p: o for p, o in before.items() if o.spot}
    assert {(p[3], p[2]) for p in spot} == set(SPOT_PRICES)
    injector.calls.clear()
    injector.on("ec2", "DescribeSpotPriceHistory", lambda request: spot_history_xml(request, NEW_PRICES))
    _prices_due(rt)
    assert refresh_due(rt) == {"aws": len(spot)}
    # One batch of types; two history entries per pool at three per page.
    assert dict(injector.calls) == {("ec2", "DescribeSpotPriceHistory"): math.ceil(2 * len(spot) / 3)}
    after = _offers(rt)
    assert set(after) == set(before)
    for pool, offer in after.items():
        if offer.spot:
            assert offer.price_per_hour == pytest.approx(NEW_PRICES[(pool[3], pool[2])])
            assert offer.price_fetched_at > before[pool].price_fetched_at  # the price age restarts
        else:
            assert offer == before[pool]  # on-demand rows wait for the type refresh
    assert refresh_due(rt) == {} and sum(injector.calls.values()) == math.ceil(2 * len(spot) / 3)


def test_spot_prices_batch_a_thousand_pools_into_a_call_per_hundred_types(
    provider: AWSProvider, injector: Injector
) -> None:
    zones = [f"{REGION}{z}" for z in "abcd"]
    prices = {(f"g9.size{i}", zone): 0.1 + i / 1000 for i in range(250) for zone in zones}
    injector.on("ec2", "DescribeSpotPriceHistory", lambda request: spot_history_xml(request, prices, 1000))
    from dataclasses import replace

    template = Offer(cloud="aws", region=REGION, zone="", instance_type="", gpu_model="A10G", gpu_count=1,
                     vcpus=4, memory_gb=16, spot=True, price_per_hour=9.0, price_fetched_at=utcnow())
    pools = [replace(template, instance_type=t, zone=z) for t, z in prices]
    quotes = provider.spot_prices(pools)
    assert len(pools) == 1000 and {(q.instance_type, q.zone): q.price_per_hour for q in quotes} == pytest.approx(prices)
    assert dict(injector.calls) == {("ec2", "DescribeSpotPriceHistory"): 3}  # ceil(250 types / 100)


def test_a_failing_price_refresh_serves_the_last_prices_stale_and_alerts(rt: Runtime, injector: Injector) -> None:
    refresh_due(rt)
    good = {p: o.price_per_hour for p, o in _offers(rt).items()}
    injector.on("ec2", "DescribeSpotPriceHistory", lambda request: ec2_error(request, "UnauthorizedOperation", 403))
    for _ in range(3):
        _prices_due(rt)
        assert "UnauthorizedOperation" in str(refresh_due(rt)["aws"])
    assert {p: o.price_per_hour for p, o in _offers(rt).items()} == good
    with transaction(rt.sessions) as s:
        view = source_view(s.get_one(PriceSource, ("aws", LIVE_PRICES)), rt.settings, utcnow())
        alerts = [a for a in s.scalars(select(Alert)) if a.kind == "prices.stale"]
    assert view["stale"] and view["failures"] == 3
    assert len(alerts) == 1 and alerts[0].payload["refresh"] == "spot prices"
    spot = [o for o in _offers(rt).values() if o.spot]
    with pytest.raises(ProviderError):  # the adapter itself raises rather than answer with fallback prices
        rt.providers["aws"].spot_prices(spot)  # type: ignore[attr-defined]
