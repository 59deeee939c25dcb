"""The price catalog: provider listings and imported price files, cached in the store.

Placement never calls `list_offers` itself: each provider's live offers are fetched on their
own interval (the daemon's price loop, or lazily by the launcher when due), written with their
fetch time, and read back from the store. A failed refresh keeps the last good rows (and counts
the failure: stale after `price_stale_after_seconds`; after `price_alert_after_failures` in a row
a `prices.stale` alert goes to the outbox with the failure count, once per run of failures).
Imported `vms.csv` rows are a second source: a pool's
live row wins, its catalog row is used when no live price exists, and says so (`source`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.alerts import emit
from orchestrator.config import Settings
from orchestrator.logs import get_logger
from orchestrator.models import JobState
from orchestrator.runtime import Runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import CachedOffer, Job, PriceSource
from orchestrator.store.types import utcnow
from policies.placement import OfferIndex
from providers.base import Offer, OfferQuery
from providers.errors import ProviderError

log = get_logger(__name__)

_INSERT_BATCH = 5000


def _row(offer: Offer, source: str) -> dict[str, object]:
    return {
        "source": source, "cloud": offer.cloud, "region": offer.region, "zone": offer.zone,
        "instance_type": offer.instance_type, "spot": offer.spot, "gpu_model": offer.gpu_model,
        "gpu_count": offer.gpu_count, "gpu_memory_gb": float(offer.gpu_memory_gb), "vcpus": float(offer.vcpus),
        "memory_gb": float(offer.memory_gb), "price_per_hour": offer.price_per_hour,
        "on_demand_price": offer.on_demand_price, "interruption_prior": offer.interruption_prior,
        "fetched_at": offer.price_fetched_at,
    }


def _source_row(session: Session, cloud: str, source: str) -> PriceSource:
    row = session.get(PriceSource, (cloud, source))
    if row is None:
        row = PriceSource(cloud=cloud, source=source, offers=0, failures=0, last_error="", detail="",
                          updated_at=utcnow())
        session.add(row)
    return row


def store_offers(session: Session, cloud: str, source: str, offers: list[Offer], detail: str = "") -> int:
    """Replace every (cloud, source) row with `offers`; duplicate pools keep the cheapest."""
    unique: dict[tuple[str, str, str, str, bool], Offer] = {}
    for offer in offers:
        if offer.cloud != cloud:
            continue
        seen = unique.get(offer.pool)
        if seen is None or offer.price_per_hour < seen.price_per_hour:
            unique[offer.pool] = offer
    session.execute(delete(CachedOffer).where(CachedOffer.cloud == cloud, CachedOffer.source == source))
    rows = [_row(o, source) for o in unique.values()]
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(insert(CachedOffer), rows[start:start + _INSERT_BATCH])
    now = utcnow()
    meta = _source_row(session, cloud, source)
    meta.offers, meta.fetched_at, meta.attempted_at = len(rows), now, now
    meta.failures, meta.last_error, meta.updated_at = 0, "", now
    if detail:
        meta.detail = detail
    return len(rows)


def record_failure(session: Session, cloud: str, error: str) -> int:
    """Count a failed live refresh; the last good rows stay. Returns failures in a row."""
    meta = _source_row(session, cloud, "live")
    meta.failures = (meta.failures or 0) + 1
    meta.last_error, meta.attempted_at, meta.updated_at = error[:2000], utcnow(), utcnow()
    return meta.failures


def wake_waiting_jobs(session: Session) -> int:
    """New prices: jobs waiting for capacity are re-evaluated by the next placement pass."""
    now = utcnow()
    result = session.execute(
        update(Job).where(Job.state == JobState.WAITING_CAPACITY.value, Job.not_before > now)
        .values(not_before=now).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def generation(session: Session) -> tuple[object, ...]:
    """Changes whenever any source is rewritten: a cheap check before reloading the cache."""
    return tuple(session.execute(select(func.max(PriceSource.fetched_at), func.sum(PriceSource.offers),
                                        func.count())).one())


def load_offers(session: Session, clouds: frozenset[str] | None = None) -> list[Offer]:
    """Every cached pool once: the live row when there is one, else the catalog row."""
    stmt = select(CachedOffer.__table__)
    if clouds is not None:
        stmt = stmt.where(CachedOffer.cloud.in_(sorted(clouds)))
    chosen: dict[tuple[str, str, str, str, bool], Offer] = {}
    strings: dict[str, str] = {}
    s = strings.setdefault
    for r in session.execute(stmt):
        pool = (r.cloud, r.region, r.zone, r.instance_type, r.spot)
        if pool in chosen and r.source != "live":
            continue
        offer = Offer(cloud=s(r.cloud, r.cloud), region=s(r.region, r.region), zone=s(r.zone, r.zone),
                      instance_type=s(r.instance_type, r.instance_type), gpu_model=s(r.gpu_model, r.gpu_model),
                      gpu_count=r.gpu_count, vcpus=r.vcpus, memory_gb=r.memory_gb, spot=r.spot,
                      price_per_hour=r.price_per_hour, price_fetched_at=r.fetched_at,
                      gpu_memory_gb=r.gpu_memory_gb, on_demand_price=r.on_demand_price,
                      interruption_prior=r.interruption_prior, source=r.source)
        chosen[pool] = offer
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


def _due_before(settings: Settings, row: PriceSource | None, regular: datetime) -> datetime:
    """A failed refresh is retried after `retry_backoff_seconds`, doubling per failure, never later than the
    regular interval. Why: found by the chaos harness -- a throttled first fetch left the daemon with no
    offers at all for the whole interval (10 min by default), every job waiting for capacity meanwhile."""
    if row is None or not row.failures:
        return regular
    retry = settings.retry_backoff_seconds * 2 ** min(row.failures - 1, 6)
    return max(regular, utcnow() - timedelta(seconds=retry))


def refresh_due(rt: Runtime, *, force: bool = False) -> dict[str, int | str]:
    """Fetch live offers from each enabled provider whose data is older than the interval.

    Returns provider -> offers stored, or the error text. Never raises for a provider error.
    """
    settings = rt.settings
    due_before = utcnow() - timedelta(seconds=settings.price_refresh_interval_seconds)
    with transaction(rt.sessions) as s:
        last = {r.cloud: r for r in s.scalars(select(PriceSource).where(PriceSource.source == "live"))}
    results: dict[str, int | str] = {}
    for name, provider in rt.providers.items():
        row = last.get(name)
        attempted: datetime | None = row.attempted_at if row is not None else None
        if not force and attempted is not None and attempted > _due_before(settings, row, due_before):
            continue
        try:
            offers = provider.list_offers(OfferQuery())
        except ProviderError as exc:
            with transaction(rt.sessions) as s:
                failures = record_failure(s, name, str(exc))
                if failures >= settings.price_alert_after_failures:
                    _alert_stale(s, name, failures, str(exc))
            results[name] = str(exc)
            level = log.error if failures >= settings.price_alert_after_failures else log.warning
            level("price_refresh_failed", provider=name, failures=failures, error=str(exc),
                  alert=failures >= settings.price_alert_after_failures)
            continue
        with transaction(rt.sessions) as s:
            results[name] = store_offers(s, name, "live", offers)
            woken = wake_waiting_jobs(s)
        log.info("prices_refreshed", provider=name, offers=results[name], woken=woken)
    return results


def _alert_stale(session: Session, cloud: str, failures: int, error: str) -> None:
    """`prices.stale`, once per run of failures (keyed by the last good fetch), with the failure it causes."""
    meta = session.get(PriceSource, (cloud, "live"))
    last_good = meta.fetched_at.isoformat() if meta is not None and meta.fetched_at else "never"
    emit(session, "prices.stale", f"{cloud}: price refresh failed {failures} times in a row; serving prices from "
         f"{last_good}", body=error[:2000], payload={"cloud": cloud, "failures": failures, "last_good": last_good,
                                                    "error": error[:2000]},
         dedup_key=f"prices.stale:{cloud}:{last_good}")


def source_view(row: PriceSource, stale_after: float, now: datetime) -> dict[str, object]:
    age = (now - row.fetched_at).total_seconds() if row.fetched_at else None
    stale = row.source == "live" and (age is None or age > stale_after or row.failures > 0)
    return {"cloud": row.cloud, "source": row.source, "offers": row.offers,
            "fetched_at": row.fetched_at.isoformat() if row.fetched_at else None,
            "age_seconds": None if age is None else round(age, 1), "stale": stale,
            "failures": row.failures, "last_error": row.last_error, "detail": row.detail}


def add_price_loop(scheduler: Any, rt: Runtime) -> None:
    """Register the price-refresh job: each provider's live offers on its own interval."""

    def run() -> None:
        try:
            refresh_due(rt)
        except Exception as exc:  # a failed pass is logged; the next one retries
            log.error("price_refresh_pass_failed", error=repr(exc), exc_info=exc)

    every = max(5.0, min(60.0, rt.settings.price_refresh_interval_seconds / 4))
    scheduler.add_job(run, "interval", seconds=every, id="prices", max_instances=1, coalesce=True,
                      next_run_time=datetime.now(UTC))
