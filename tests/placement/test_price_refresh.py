"""Spot prices and instance types refresh on separate intervals, on SQLite and PostgreSQL.

The provider is the scriptable fake plus a price-only call that counts itself; the refresh code, the
store, the alerts outbox and the status view are the real ones. Time passing is a backdated
`attempted_at`, the column the due-checks read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from orchestrator.catalog.price_store import live_spot_pools, update_spot_prices
from orchestrator.catalog.pricing import LIVE, LIVE_PRICES, load_offers, refresh_due, source_view
from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Alert, Job, PriceSource
from orchestrator.store.types import utcnow
from providers.base import Offer, OfferQuery, ProviderError, SpotPrice
from tests.fakes.provider import FakeProvider, make_offer

SPOT_POOL = ("priced", "p1", "p1-a", "gpu.small", True)


@dataclass
class PricedFake(FakeProvider):
    """The fake cloud with a price-only call; `spot` holds the prices that call answers."""

    spot: dict[tuple[str, str, str], float] = field(default_factory=dict)
    price_error: ProviderError | None = None
    listings: int = 0
    price_calls: int = 0

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        self.listings += 1
        return super().list_offers(query)

    def spot_prices(self, pools: Sequence[Offer]) -> list[SpotPrice]:
        self.price_calls += 1
        if self.price_error is not None:
            raise self.price_error
        now = datetime.now(UTC)
        return [SpotPrice(p.region, p.zone, p.instance_type, price, now) for p in pools
                if (price := self.spot.get((p.region, p.zone, p.instance_type))) is not None]


@pytest.fixture
def rt(tmp_path: Path, db_url: str) -> Iterator[Runtime]:
    """On a real SQLite file and on the real PostgreSQL (the bulk price update is dialect-sensitive)."""
    runtime = build_runtime(Settings(home=tmp_path, database_url=db_url, providers={}, price_alert_after_failures=2,
                                     retry_backoff_seconds=5), with_providers=False)
    cloud = PricedFake("priced", [make_offer("priced", "p1-a", 0.40), make_offer("priced", "p1-b", 0.45),
                                  make_offer("priced", "p1-a", 1.00, spot=False)])
    runtime.providers = {"priced": cloud}  # type: ignore[dict-item]
    yield runtime
    runtime.close()


def _cloud(rt: Runtime) -> PricedFake:
    return rt.providers["priced"]  # type: ignore[return-value]


def _later(rt: Runtime, source: str, seconds: float) -> None:
    """As if `seconds` had passed since the last attempt of `source`."""
    with transaction(rt.sessions) as s:
        for row in s.scalars(select(PriceSource).where(PriceSource.source == source)):
            assert row.attempted_at is not None
            row.attempted_at -= timedelta(seconds=seconds)


def _offers(rt: Runtime) -> dict[tuple[str, str, str, str, bool], Offer]:
    with transaction(rt.sessions) as s:
        return {o.pool: o for o in load_offers(s)}


def _sources(rt: Runtime) -> dict[str, dict[str, object]]:
    with transaction(rt.sessions) as s:
        return {r.source: source_view(r, rt.settings, utcnow()) for r in s.scalars(select(PriceSource))}


def _stale_alerts(rt: Runtime) -> list[Alert]:
    with transaction(rt.sessions) as s:
        return [a for a in s.scalars(select(Alert).order_by(Alert.created_at)) if a.kind == "prices.stale"]


def test_prices_and_types_refresh_on_their_own_intervals(rt: Runtime) -> None:
    cloud = _cloud(rt)
    assert refresh_due(rt) == {"priced": 3}  # first pass: the full listing
    assert (cloud.listings, cloud.price_calls) == (1, 0)
    assert refresh_due(rt) == {}  # nothing due
    cloud.spot[("p1", "p1-a", "gpu.small")] = 0.31
    cloud.offers.append(make_offer("priced", "p1-c", 0.05))  # a new pool only a type refresh may add
    _later(rt, LIVE_PRICES, rt.settings.spot_price_refresh_seconds + 1)
    before = _offers(rt)[SPOT_POOL].price_fetched_at
    assert refresh_due(rt) == {"priced": 1}  # one pool priced: p1-b has no fresh price and keeps its own
    assert (cloud.listings, cloud.price_calls) == (1, 1)  # the price refresh did not list types
    offers = _offers(rt)
    assert offers[SPOT_POOL].price_per_hour == pytest.approx(0.31) and offers[SPOT_POOL].price_fetched_at > before
    assert offers[("priced", "p1", "p1-b", "gpu.small", True)].price_per_hour == pytest.approx(0.45)
    assert ("priced", "p1", "p1-c", "gpu.small", True) not in offers  # a price refresh adds no pool
    assert offers[("priced", "p1", "p1-a", "gpu.small", False)].price_per_hour == pytest.approx(1.00)
    _later(rt, LIVE, rt.settings.instance_type_refresh_seconds - 60)
    assert refresh_due(rt) == {}  # types not yet due, prices refreshed a moment ago
    _later(rt, LIVE, 120)
    assert refresh_due(rt) == {"priced": 4}
    assert (cloud.listings, cloud.price_calls) == (2, 1)  # the type refresh did not call the price-only API
    assert ("priced", "p1", "p1-c", "gpu.small", True) in _offers(rt)
    views = _sources(rt)
    assert views[LIVE]["interval_seconds"] == 86400 and views[LIVE_PRICES]["interval_seconds"] == 600
    assert views[LIVE]["fetched_at"] and views[LIVE_PRICES]["fetched_at"]
    assert not views[LIVE]["stale"] and not views[LIVE_PRICES]["stale"]


def test_failing_price_refresh_keeps_last_good_prices_goes_stale_and_alerts_once(rt: Runtime) -> None:
    cloud = _cloud(rt)
    refresh_due(rt)
    cloud.price_error = ProviderError("spot price API throttled", provider="priced")
    for _ in range(3):
        _later(rt, LIVE_PRICES, rt.settings.spot_price_refresh_seconds + 1)
        assert "throttled" in str(refresh_due(rt)["priced"])
    assert _offers(rt)[SPOT_POOL].price_per_hour == pytest.approx(0.40)  # the last good price is served
    views = _sources(rt)
    assert views[LIVE_PRICES]["stale"] and views[LIVE_PRICES]["failures"] == 3
    assert not views[LIVE]["stale"] and views[LIVE]["failures"] == 0  # the types are fine
    alerts = _stale_alerts(rt)
    assert len(alerts) == 1 and alerts[0].payload["refresh"] == "spot prices" and alerts[0].payload["failures"] == 2
    # A failure is retried after the backoff (5 s doubling), not after the whole interval.
    _later(rt, LIVE_PRICES, 5 * 2 ** 2 + 1)
    cloud.price_error = None
    cloud.spot[("p1", "p1-a", "gpu.small")] = 0.35
    assert refresh_due(rt) == {"priced": 1}
    assert _offers(rt)[SPOT_POOL].price_per_hour == pytest.approx(0.35)
    assert not _sources(rt)[LIVE_PRICES]["stale"] and cloud.listings == 1


def test_failing_type_refresh_keeps_the_pools_goes_stale_and_alerts_once(rt: Runtime) -> None:
    cloud = _cloud(rt)
    refresh_due(rt)
    cloud.list_error = ProviderError("DescribeInstanceTypes denied", provider="priced")
    for _ in range(3):
        _later(rt, LIVE, rt.settings.instance_type_refresh_seconds + 1)
        assert "denied" in str(refresh_due(rt)["priced"])
    assert set(_offers(rt)) == {SPOT_POOL, ("priced", "p1", "p1-b", "gpu.small", True),
                                ("priced", "p1", "p1-a", "gpu.small", False)}
    views = _sources(rt)
    assert views[LIVE]["stale"] and views[LIVE]["failures"] == 3 and "denied" in str(views[LIVE]["last_error"])
    alerts = _stale_alerts(rt)
    assert len(alerts) == 1 and alerts[0].payload["refresh"] == "instance types"
    # Prices keep refreshing meanwhile through their own call, in passes where the types are not due.
    cloud.spot[("p1", "p1-a", "gpu.small")] = 0.22
    _later(rt, LIVE_PRICES, rt.settings.spot_price_refresh_seconds + 1)
    assert refresh_due(rt) == {"priced": 1} and _offers(rt)[SPOT_POOL].price_per_hour == pytest.approx(0.22)
    assert not _sources(rt)[LIVE_PRICES]["stale"]


def test_a_provider_without_the_price_call_gets_a_full_listing_that_adds_no_pool(rt: Runtime) -> None:
    plain = FakeProvider("plain", [make_offer("plain", "q1-a", 0.50)])
    rt.providers = {"plain": plain}  # type: ignore[dict-item]
    refresh_due(rt)
    plain.offers = [make_offer("plain", "q1-a", 0.44), make_offer("plain", "q1-b", 0.10)]
    _later(rt, LIVE_PRICES, rt.settings.spot_price_refresh_seconds + 1)
    assert refresh_due(rt) == {"plain": 1}
    offers = _offers(rt)
    assert offers[("plain", "q1", "q1-a", "gpu.small", True)].price_per_hour == pytest.approx(0.44)
    assert ("plain", "q1", "q1-b", "gpu.small", True) not in offers


def test_a_price_change_wakes_waiting_jobs_and_no_change_does_not(rt: Runtime) -> None:
    refresh_due(rt)
    spec = JobSpec(name="w", run="true", resources={"accelerators": "T4:1"})  # type: ignore[arg-type]
    later = utcnow() + timedelta(hours=1)
    with transaction(rt.sessions) as s:
        job_id = submit(s, spec).id
        s.execute(update(Job).where(Job.id == job_id).values(state="WAITING_CAPACITY", not_before=later))

    def waiting_until() -> datetime:
        with transaction(rt.sessions) as s:
            return s.scalars(select(Job.not_before).where(Job.id == job_id)).one()  # type: ignore[return-value]

    _cloud(rt).spot[("p1", "p1-a", "gpu.small")] = 0.40  # the same price
    _later(rt, LIVE_PRICES, rt.settings.spot_price_refresh_seconds + 1)
    refresh_due(rt)
    assert waiting_until() == later
    _cloud(rt).spot[("p1", "p1-a", "gpu.small")] = 0.29
    _later(rt, LIVE_PRICES, rt.settings.spot_price_refresh_seconds + 1)
    refresh_due(rt)
    assert waiting_until() <= utcnow()


def test_refresh_settings_old_name_and_per_provider_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    defaults = Settings(home=tmp_path)
    assert (defaults.spot_price_refresh_seconds, defaults.instance_type_refresh_seconds) == (600, 86400)
    monkeypatch.setenv("SPOTWISE_PRICE_REFRESH_INTERVAL_SECONDS", "120")  # deployments set the old name
    assert Settings(home=tmp_path).refresh_intervals("aws") == (120, 86400)
    assert Settings(home=tmp_path, spot_price_refresh_seconds=300).spot_price_refresh_seconds == 300  # new wins
    monkeypatch.delenv("SPOTWISE_PRICE_REFRESH_INTERVAL_SECONDS")
    settings = Settings(home=tmp_path, providers={"aws": {"regions": ["us-east-1"], "spot_price_refresh_seconds": 60},
                                                  "local": {}})
    assert settings.providers["aws"] == {"regions": ["us-east-1"]}  # the adapter never sees the key
    assert settings.refresh_intervals("aws") == (60, 86400) and settings.refresh_intervals("local") == (600, 86400)
    with pytest.raises(ValidationError, match="providers.aws.instance_type_refresh_seconds must be a positive"):
        Settings(home=tmp_path, providers={"aws": {"instance_type_refresh_seconds": "daily"}})


def test_local_price_refresh_reads_its_catalog_file(tmp_path: Path) -> None:
    from providers.local import LocalProvider

    local = LocalProvider(tmp_path / "local")
    listed = [o for o in local.list_offers(OfferQuery()) if o.spot]
    quotes = {(q.zone, q.instance_type): q.price_per_hour for q in local.spot_prices(listed)}
    assert listed and quotes == {(o.zone, o.instance_type): o.price_per_hour for o in listed}


def test_a_pool_removed_meanwhile_is_skipped_by_the_price_update(rt: Runtime) -> None:
    """The launcher's lazy refresh and the price loop may overlap: a type refresh can drop a pool after the
    price refresh read it. The price update skips it instead of failing the whole batch."""
    refresh_due(rt)
    with transaction(rt.sessions) as s:
        pools = live_spot_pools(s, "priced")
    _cloud(rt).offers = [o for o in _cloud(rt).offers if o.zone != "p1-b"]
    refresh_due(rt, force=True)
    quotes = [SpotPrice(p.region, p.zone, p.instance_type, 0.2, datetime.now(UTC)) for p in pools]
    with transaction(rt.sessions) as s:
        assert update_spot_prices(s, "priced", pools, quotes) == (2, 2)
    offers = _offers(rt)
    assert offers[SPOT_POOL].price_per_hour == pytest.approx(0.2)
    assert ("priced", "p1", "p1-b", "gpu.small", True) not in offers


def test_offers_price_age_is_the_price_fetch_and_the_catalog_view_shows_both_refreshes(
        rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from orchestrator.api import create_app
    from orchestrator.store.tables import CachedOffer
    from orchestrator.tokens import create_api_token

    refresh_due(rt)
    with transaction(rt.sessions) as s:  # as if the type refresh (and its prices) were an hour old
        s.execute(update(CachedOffer).values(fetched_at=utcnow() - timedelta(hours=1)))
        _, token = create_api_token(s, role="admin", team=None)
    _cloud(rt).spot[("p1", "p1-a", "gpu.small")] = 0.33
    _later(rt, LIVE_PRICES, rt.settings.spot_price_refresh_seconds + 1)
    refresh_due(rt)
    api = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})
    ages = {(o["zone"], o["spot"]): o["price_age_seconds"] for o in api.get("/v1/offers").json()["items"]}
    assert ages[("p1-a", True)] < 60  # repriced just now
    assert ages[("p1-b", True)] >= 3600 and ages[("p1-a", False)] >= 3600  # not repriced: their age shows it
    sources = {i["source"]: i for i in api.get("/v1/catalog").json()["items"]}
    assert set(sources) == {LIVE, LIVE_PRICES}
    assert sources[LIVE]["refresh"] == "instance types" and sources[LIVE_PRICES]["refresh"] == "spot prices"
    assert sources[LIVE_PRICES]["fetched_at"] > sources[LIVE]["fetched_at"]
    # `spotwise catalog status` shows one row per refresh, each with its interval and fetch time.
    from typer.testing import CliRunner

    from orchestrator.cli import app as cli_app
    from orchestrator.client import Client

    def client(_settings: Settings) -> Client:
        return Client("http://testserver", token, transport=api)

    monkeypatch.setattr(Client, "from_settings", staticmethod(client))
    monkeypatch.setenv("COLUMNS", "250")
    table = CliRunner().invoke(cli_app, ["catalog", "status"])
    assert table.exit_code == 0, table.output
    rows = {line.split()[3]: line for line in table.output.splitlines() if "priced" in line}
    assert "instance types, every 86400s" in rows["live"] and "spot prices, every 600s" in rows["live-prices"]
    assert str(sources[LIVE]["fetched_at"]) in rows["live"]
