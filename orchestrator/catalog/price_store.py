"""The price catalog's storage: cached offers per (cloud, source) and each source's refresh state.

Three kinds of `PriceSource` row exist per cloud. "live": the full provider listing (instance
types, zones and their prices), which owns the cloud's live `CachedOffer` rows. "live-prices": the
cheaper price-only refresh, which only updates the price and fetch time of those rows' spot pools.
"catalog": an imported `vms.csv`, with its own rows. Why two live kinds rather than one: each has
its own interval, failure count, staleness and alert (spot prices move every few minutes, instance
types a few times a year), and a failure of one must not hide the health of the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.jobs.models import JobState
from orchestrator.logs import get_logger
from orchestrator.store.db import transaction
from orchestrator.store.tables import CachedOffer, Job, PriceSource
from orchestrator.store.types import utcnow
from policies.placement import OfferIndex
from providers.base import Offer, SpotPrice

log = get_logger(__name__)

LIVE = "live"  # full listings: the pool set and every price
LIVE_PRICES = "live-prices"  # price-only refreshes of the live spot pools
CATALOG = "catalog"  # imported price files

_INSERT_BATCH = 5000
Pool = tuple[str, str, str, str, bool]


def _row(offer: Offer, source: str) -> dict[str, object]:
    return {
        "source": source, "cloud": offer.cloud, "region": offer.region, "zone": offer.zone,
        "instance_type": offer.instance_type, "spot": offer.spot, "gpu_model": offer.gpu_model,
        "gpu_count": offer.gpu_count, "gpu_memory_gb": float(offer.gpu_memory_gb), "vcpus": float(offer.vcpus),
        "memory_gb": float(offer.memory_gb), "price_per_hour": offer.price_per_hour,
        "on_demand_price": offer.on_demand_price, "interruption_prior": offer.interruption_prior,
        "fetched_at": offer.price_fetched_at,
    }


def source_row(session: Session, cloud: str, source: str) -> PriceSource:
    """The (cloud, source) refresh state, created empty on first use."""
    row = session.get(PriceSource, (cloud, source))
    if row is None:
        row = PriceSource(cloud=cloud, source=source, offers=0, failures=0, last_error="", detail="",
                          updated_at=utcnow())
        session.add(row)
    return row


def mark_fetched(session: Session, cloud: str, source: str, offers: int, detail: str = "") -> None:
    """A refresh of (cloud, source) worked: fetched now, no failures in a row."""
    now = utcnow()
    meta = source_row(session, cloud, source)
    meta.offers, meta.fetched_at, meta.attempted_at = offers, now, now
    meta.failures, meta.last_error, meta.updated_at = 0, "", now
    if detail:
        meta.detail = detail


def _unique(cloud: str, offers: list[Offer]) -> list[Offer]:
    """`cloud`'s offers, one per pool: the cheapest."""
    unique: dict[Pool, Offer] = {}
    for offer in offers:
        if offer.cloud != cloud:
            continue
        seen = unique.get(offer.pool)
        if seen is None or offer.price_per_hour < seen.price_per_hour:
            unique[offer.pool] = offer
    return list(unique.values())


def store_offers(session: Session, cloud: str, source: str, offers: list[Offer], detail: str = "") -> int:
    """Replace every (cloud, source) row with `offers`; duplicate pools keep the cheapest."""
    session.execute(delete(CachedOffer).where(CachedOffer.cloud == cloud, CachedOffer.source == source))
    rows = [_row(o, source) for o in _unique(cloud, offers)]
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(insert(CachedOffer), rows[start:start + _INSERT_BATCH])
    mark_fetched(session, cloud, source, len(rows), detail)
    return len(rows)


def record_failure(session: Session, cloud: str, error: str, source: str = LIVE) -> int:
    """Count a failed refresh of (cloud, source); the last good rows stay. Returns failures in a row."""
    meta = source_row(session, cloud, source)
    meta.failures = (meta.failures or 0) + 1
    meta.last_error, meta.attempted_at, meta.updated_at = error[:2000], utcnow(), utcnow()
    return meta.failures


def _offer(r: Any, strings: dict[str, str]) -> Offer:
    """A stored row (a Core result row) as an Offer; repeated strings are shared to keep memory down."""
    s = strings.setdefault
    return Offer(cloud=s(r.cloud, r.cloud), region=s(r.region, r.region), zone=s(r.zone, r.zone),
                 instance_type=s(r.instance_type, r.instance_type), gpu_model=s(r.gpu_model, r.gpu_model),
                 gpu_count=r.gpu_count, vcpus=r.vcpus, memory_gb=r.memory_gb, spot=r.spot,
                 price_per_hour=r.price_per_hour, price_fetched_at=r.fetched_at, gpu_memory_gb=r.gpu_memory_gb,
                 on_demand_price=r.on_demand_price, interruption_prior=r.interruption_prior, source=r.source)


def live_spot_pools(session: Session, cloud: str) -> list[Offer]:
    """The cloud's live spot pools as last stored: what a price-only refresh prices."""
    stmt = select(CachedOffer.__table__).where(CachedOffer.cloud == cloud, CachedOffer.source == LIVE,
                                               CachedOffer.spot.is_(True))
    strings: dict[str, str] = {}
    return [_offer(r, strings) for r in session.execute(stmt)]


def update_spot_prices(session: Session, cloud: str, pools: Iterable[Offer],
                       quotes: Iterable[SpotPrice]) -> tuple[int, int]:
    """Write fresh prices onto the known live spot pools (never adding one): (pools priced, prices changed).

    The fetch time moves for every quoted pool, so an offer's price age is its price's age.
    """
    known = {(o.region, o.zone, o.instance_type): o for o in pools if o.cloud == cloud and o.spot}
    rows: list[dict[str, object]] = []
    changed = 0
    for quote in quotes:
        offer = known.get((quote.region, quote.zone, quote.instance_type))
        if offer is None or quote.price_per_hour <= 0:
            continue
        changed += abs(offer.price_per_hour - quote.price_per_hour) > 1e-9
        rows.append({"k_region": quote.region, "k_zone": quote.zone, "k_type": quote.instance_type,
                     "new_price": quote.price_per_hour, "new_fetched_at": quote.fetched_at})
    # Core executemany, not the ORM's bulk update by key: a pool that a concurrent type refresh just
    # removed is simply not updated (the ORM would raise StaleDataError for the whole batch).
    table = cast(Table, CachedOffer.__table__)
    stmt = (update(table).where(table.c.source == LIVE, table.c.cloud == cloud, table.c.spot.is_(True),
                                table.c.region == bindparam("k_region"), table.c.zone == bindparam("k_zone"),
                                table.c.instance_type == bindparam("k_type"))
            .values(price_per_hour=bindparam("new_price"), fetched_at=bindparam("new_fetched_at")))
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(stmt, rows[start:start + _INSERT_BATCH])
    mark_fetched(session, cloud, LIVE_PRICES, len(rows))
    return len(rows), changed


def wake_waiting_jobs(session: Session) -> int:
    """New prices: jobs waiting for capacity are re-evaluated by the next placement pass."""
    now = utcnow()
    result = session.execute(
        update(Job).where(Job.state == JobState.WAITING_CAPACITY.value, Job.not_before > now)
        .values(not_before=now).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def generation(session: Session) -> tuple[object, ...]:
    """Changes whenever any source is rewritten or repriced: a cheap check before reloading the cache."""
    return tuple(session.execute(select(func.max(PriceSource.fetched_at), func.sum(PriceSource.offers),
                                        func.count())).one())


def load_offers(session: Session, clouds: frozenset[str] | None = None,
                without: tuple[str, str] | None = None) -> list[Offer]:
    """Every cached pool once: the live row when there is one, else the catalog row. `without`: leave out the
    rows of that (cloud, source)."""
    stmt = select(CachedOffer.__table__)
    if clouds is not None:
        stmt = stmt.where(CachedOffer.cloud.in_(sorted(clouds)))
    if without is not None:
        stmt = stmt.where((CachedOffer.cloud != without[0]) | (CachedOffer.source != without[1]))
    chosen: dict[Pool, Offer] = {}
    strings: dict[str, str] = {}
    for r in session.execute(stmt):
        pool = (r.cloud, r.region, r.zone, r.instance_type, r.spot)
        if pool in chosen and r.source != LIVE:
            continue
        chosen[pool] = _offer(r, strings)
    return list(chosen.values())


@dataclass
class OfferCache:
    """The cached offers and their index, reloaded only when the store's generation changes."""

    clouds: frozenset[str] | None = None
    _generation: tuple[object, ...] | None = None
    offers: list[Offer] | None = None
    index: OfferIndex | None = None

    def get(self, sessions: sessionmaker[Session]) -> OfferIndex:
        with transaction(sessions) as s:
            current = generation(s)
            if self.index is not None and current == self._generation:
                return self.index
            started = time.perf_counter()
            self.offers = load_offers(s, self.clouds)
        self.index = OfferIndex(self.offers)
        self._generation = current
        log.debug("offer_cache_loaded", offers=len(self.offers), seconds=round(time.perf_counter() - started, 3))
        return self.index

    def after_store(self, session: Session, cloud: str, source: str, offers: list[Offer]) -> Callable[[], None]:
        """Call in the transaction that just ran `store_offers(session, cloud, source, offers)`; returns what to
        call once it has committed, which makes this cache current (offers and index) without a reload.

        Why: after a catalog import the first `spotwise offers` reloaded every row (60,875 for GCP's vms.csv)
        and rebuilt the index: seconds, where later queries take milliseconds. The rows just written are
        already in memory; only the other sources' rows (usually few) are read back. Same offers as a reload
        (the live row of a pool before its catalog row), the index built before the import answers."""
        started = time.perf_counter()
        strings: dict[str, str] = {}
        chosen = {o.pool: o for o in load_offers(session, self.clouds, without=(cloud, source))}
        if self.clouds is None or cloud in self.clouds:
            for offer in _unique(cloud, offers):  # exactly what a reload would read back from these rows
                if offer.pool not in chosen or (source == LIVE and chosen[offer.pool].source != LIVE):
                    chosen[offer.pool] = _offer(SimpleNamespace(**_row(offer, source)), strings)
        fresh = list(chosen.values())
        index = OfferIndex(fresh)
        current = generation(session)
        log.debug("offer_cache_rebuilt", offers=len(fresh), seconds=round(time.perf_counter() - started, 3))

        def install() -> None:
            self.offers, self.index, self._generation = fresh, index, current
        return install
