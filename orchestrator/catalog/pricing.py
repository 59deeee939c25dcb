"""The price catalog service: each provider's instance types and spot prices, refreshed on their own intervals.

Placement never calls a provider itself: offers are fetched by the daemon's price loop (or lazily
by the launcher when due), written with their fetch time, and read back from the store
(`orchestrator/catalog/price_store.py`). Per provider there are two due-checks:

- instance types, every `instance_type_refresh_seconds` (daily): the full `list_offers`, which
  rewrites the cloud's pool set (and its prices, which come with it);
- spot prices, every `spot_price_refresh_seconds` (10 min): the provider's price-only
  `spot_prices` call (`providers.base.SpotPriceSource`; a full listing for providers without it),
  which updates the price and fetch time of the known live spot pools and adds none.

Each has its own attempted/fetched time and failure count. A failed refresh keeps the last good
rows; it is retried after `retry_backoff_seconds` (doubling), is shown as stale, and after
`price_alert_after_failures` in a row a `prices.stale` alert goes to the outbox, once per run of
failures. At most one provider call per provider per pass: when the types are due the price
refresh waits for the next pass (the listing just fetched the prices anyway).
Imported `vms.csv` rows are a second source: a pool's live row wins, its catalog row is used when
no live price exists, and says so (`source`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.alerts import emit
from orchestrator.catalog.price_store import (
    CATALOG,
    LIVE,
    LIVE_PRICES,
    OfferCache,
    generation,
    live_spot_pools,
    load_offers,
    record_failure,
    source_row,
    store_offers,
    update_spot_prices,
    wake_waiting_jobs,
)
from orchestrator.config import Settings
from orchestrator.dberrors import LoopFailures
from orchestrator.logs import get_logger
from orchestrator.runtime import Runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import PriceSource
from orchestrator.store.types import utcnow
from providers.base import OfferQuery, Provider, SpotPrice, SpotPriceSource
from providers.errors import ProviderError

__all__ = [
    "CATALOG", "LIVE", "LIVE_PRICES", "OfferCache", "add_price_loop", "generation", "load_offers", "refresh_due",
    "refresh_prices", "refresh_types", "source_view", "store_offers", "wake_waiting_jobs",
]

log = get_logger(__name__)

_WHAT = {LIVE: "instance types", LIVE_PRICES: "spot prices", CATALOG: "import"}


def _due_before(settings: Settings, row: PriceSource | None, regular: datetime) -> datetime:
    """A failed refresh is retried after `retry_backoff_seconds`, doubling per failure, never later than the
    regular interval. Why: found by the chaos harness -- a throttled first fetch left the daemon with no
    offers at all for the whole interval (10 min by default), every job waiting for capacity meanwhile."""
    if row is None or not row.failures:
        return regular
    retry = settings.retry_backoff_seconds * 2 ** min(row.failures - 1, 6)
    return max(regular, utcnow() - timedelta(seconds=retry))


def _is_due(settings: Settings, row: PriceSource | None, interval: float) -> bool:
    if row is None or row.attempted_at is None:
        return True
    return row.attempted_at <= _due_before(settings, row, utcnow() - timedelta(seconds=interval))


def refresh_due(rt: Runtime, *, force: bool = False) -> dict[str, int | str]:
    """Run each enabled provider's due refresh: its instance types when due (always with `force`), else its
    spot prices when due. Returns provider -> pools stored or repriced, or the error text; providers with
    nothing due are left out. Never raises for a provider error."""
    settings = rt.settings
    with transaction(rt.sessions) as s:
        state = {(r.cloud, r.source): r for r in
                 s.scalars(select(PriceSource).where(PriceSource.source.in_((LIVE, LIVE_PRICES))))}
    results: dict[str, int | str] = {}
    for name, provider in rt.providers.items():
        prices_every, types_every = settings.refresh_intervals(name)
        types = state.get((name, LIVE))
        if force or _is_due(settings, types, types_every):
            results[name] = refresh_types(rt, name, provider)
        elif types is not None and types.offers and _is_due(settings, state.get((name, LIVE_PRICES)), prices_every):
            results[name] = refresh_prices(rt, name, provider)
    return results


def refresh_types(rt: Runtime, name: str, provider: Provider) -> int | str:
    """The full listing: rewrites the cloud's live pools. Also counts as a spot price fetch (it has them)."""
    try:
        offers = provider.list_offers(OfferQuery())
    except ProviderError as exc:
        return _failed(rt, name, LIVE, exc)
    spot_pools = len({o.pool for o in offers if o.spot and o.cloud == name})
    with transaction(rt.sessions) as s:
        stored = store_offers(s, name, LIVE, offers)
        prices = source_row(s, name, LIVE_PRICES)
        prices.offers, prices.fetched_at, prices.attempted_at = spot_pools, utcnow(), utcnow()
        prices.failures, prices.last_error, prices.updated_at = 0, "", utcnow()
        woken = wake_waiting_jobs(s)
    log.info("instance_types_refreshed", provider=name, offers=stored, woken=woken)
    return stored


def refresh_prices(rt: Runtime, name: str, provider: Provider) -> int | str:
    """The price-only refresh of the cloud's known live spot pools; waiting jobs wake when a price moved."""
    with transaction(rt.sessions) as s:
        pools = live_spot_pools(s, name)
    try:
        if isinstance(provider, SpotPriceSource):
            quotes = provider.spot_prices(pools) if pools else []
        else:  # no price-only call: a full listing, of which only the known pools' prices are used
            quotes = [SpotPrice(o.region, o.zone, o.instance_type, o.price_per_hour, o.price_fetched_at)
                      for o in provider.list_offers(OfferQuery(spot=True)) if o.spot and o.cloud == name]
    except ProviderError as exc:
        return _failed(rt, name, LIVE_PRICES, exc)
    with transaction(rt.sessions) as s:
        priced, changed = update_spot_prices(s, name, pools, quotes)
        woken = wake_waiting_jobs(s) if changed else 0
    log.info("spot_prices_refreshed", provider=name, pools=len(pools), priced=priced, changed=changed, woken=woken)
    return priced


def _failed(rt: Runtime, name: str, source: str, exc: ProviderError) -> str:
    """Count the failure (the last good rows stay) and alert once the threshold is reached."""
    threshold = rt.settings.price_alert_after_failures
    with transaction(rt.sessions) as s:
        failures = record_failure(s, name, str(exc), source)
        if failures >= threshold:
            _alert_stale(s, name, source, failures, str(exc))
    level = log.error if failures >= threshold else log.warning
    level("price_refresh_failed", provider=name, refresh=_WHAT[source], failures=failures, error=str(exc),
          alert=failures >= threshold)
    return str(exc)


def _alert_stale(session: Session, cloud: str, source: str, failures: int, error: str) -> None:
    """`prices.stale`, once per run of failures (keyed by the last good fetch), with the failure it causes."""
    meta = session.get(PriceSource, (cloud, source))
    last_good = meta.fetched_at.isoformat() if meta is not None and meta.fetched_at else "never"
    what = _WHAT[source]
    key = f"prices.stale:{cloud}:{last_good}" if source == LIVE else f"prices.stale:{cloud}:{source}:{last_good}"
    emit(session, "prices.stale", f"{cloud}: {what} refresh failed {failures} times in a row; serving {what} "
         f"from {last_good}", body=error[:2000],
         payload={"cloud": cloud, "refresh": what, "failures": failures, "last_good": last_good,
                  "error": error[:2000]},
         dedup_key=key)


def source_view(row: PriceSource, settings: Settings, now: datetime) -> dict[str, object]:
    """One price source for `spotwise catalog status`: its refresh kind, interval, age and health.

    Stale: a failed last refresh, or data older than the larger of `price_stale_after_seconds` and
    twice its own interval (instance types are daily, so a day-old listing is not stale)."""
    age = (now - row.fetched_at).total_seconds() if row.fetched_at else None
    prices_every, types_every = settings.refresh_intervals(row.cloud)
    interval = {LIVE: types_every, LIVE_PRICES: prices_every}.get(row.source)
    stale = interval is not None and (
        age is None or age > max(settings.price_stale_after_seconds, 2 * interval) or row.failures > 0)
    return {"cloud": row.cloud, "source": row.source, "refresh": _WHAT.get(row.source, row.source),
            "interval_seconds": interval, "offers": row.offers,
            "fetched_at": row.fetched_at.isoformat() if row.fetched_at else None,
            "attempted_at": row.attempted_at.isoformat() if row.attempted_at else None,
            "age_seconds": None if age is None else round(age, 1), "stale": stale,
            "failures": row.failures, "last_error": row.last_error, "detail": row.detail}


def add_price_loop(scheduler: Any, rt: Runtime) -> None:
    """Register the price-refresh job; each pass runs only what is due, so it ticks well inside the shortest
    interval (at most a minute apart) and retries after a failure come on time."""
    settings = rt.settings
    if settings.price_refresh_interval_seconds is not None:
        log.warning("deprecated_setting", setting="price_refresh_interval_seconds",
                    use="spot_price_refresh_seconds and instance_type_refresh_seconds",
                    spot_price_refresh_seconds=settings.spot_price_refresh_seconds)

    # a failed pass is logged (a database outage as one throttled warning); the next one retries
    run = LoopFailures("price_refresh_pass").run(lambda: refresh_due(rt))

    shortest = min([settings.spot_price_refresh_seconds,
                    *(min(settings.refresh_intervals(name)) for name in rt.providers)])
    every = max(5.0, min(60.0, shortest / 4))
    scheduler.add_job(run, "interval", seconds=every, id="prices", max_instances=1, coalesce=True,
                      next_run_time=datetime.now(UTC))
