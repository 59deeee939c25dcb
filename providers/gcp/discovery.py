"""Zones, shapes and prices, cached: the slow-changing facts behind `list_offers`.

Shapes change when Google adds hardware and prices a few times a year, while the daemon asks
for offers every few minutes, so both are cached for `cache_ttl_s`. Zones are fanned out over a
small thread pool (the SDK is synchronous). A Billing Catalog failure is not an offer failure:
prices fall back to an imported vms.csv or the built-in table, and offers say source="catalog".
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import structlog

from providers.errors import ProviderError
from providers.gcp.catalog import VmsCatalog
from providers.gcp.errors import guarded
from providers.gcp.offers import list_zone_shapes
from providers.gcp.pricing import PriceSource, builtin_prices, fetch_billing_prices
from providers.gcp.quotas import RegionQuotas, quotas_of
from providers.gcp.settings import GCPSettings
from providers.gcp.shapes import Shape, region_of, tail

log = structlog.get_logger("providers.gcp")
MAX_WORKERS = 8


class Discovery:
    """Cached view of zones, per-zone shapes and prices for one project."""

    def __init__(self, settings: GCPSettings, project: str, clients: Any, billing_factory: Any) -> None:
        self.settings = settings
        self.project = project
        self.clients = clients
        self._billing_factory = billing_factory  # built lazily: billing is optional
        self._lock = threading.Lock()
        self._zones: tuple[float, list[str]] | None = None
        self._shapes: dict[str, tuple[float, list[Shape]]] = {}
        self._prices: tuple[float, PriceSource] | None = None
        self._quotas: dict[str, tuple[float, RegionQuotas]] = {}

    def _fresh(self, stamp: float) -> bool:
        return time.monotonic() - stamp < self.settings.cache_ttl_s

    def zones(self) -> list[str]:
        """Configured zones, else the UP zones of the configured regions (or of the project); with per-region
        subnetworks, only zones of regions that have one (a VM elsewhere could not be given a network)."""
        subnetworks = self.settings.subnetwork
        if subnetworks:
            return [z for z in self._zones_listed() if region_of(z) in subnetworks]
        return self._zones_listed()

    def _zones_listed(self) -> list[str]:
        if self.settings.zones:
            return list(self.settings.zones)
        with self._lock:
            if self._zones and self._fresh(self._zones[0]):
                return self._zones[1]
        from google.cloud import compute_v1

        request = compute_v1.ListZonesRequest(project=self.project, max_results=self.settings.page_size)
        listed = guarded(lambda: list(self.clients.zones.list(
            request=request, retry=None, timeout=self.settings.request_timeout_s)))
        wanted = set(self.settings.regions)
        zones = sorted(z.name for z in listed
                       if z.status == "UP" and (not wanted or tail(z.region) in wanted))
        with self._lock:
            self._zones = (time.monotonic(), zones)
        return zones

    def shapes(self, zones: list[str]) -> dict[str, list[Shape]]:
        with self._lock:
            cached = {z: s for z, (t, s) in self._shapes.items() if z in zones and self._fresh(t)}
        missing = [z for z in zones if z not in cached]
        if missing:
            def one(zone: str) -> list[Shape]:
                return list_zone_shapes(self.clients, self.project, zone, self.settings.page_size,
                                        self.settings.request_timeout_s)

            with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(missing))) as pool:
                fetched = dict(zip(missing, pool.map(one, missing), strict=True))
            now = time.monotonic()
            with self._lock:
                self._shapes.update({z: (now, s) for z, s in fetched.items()})
            cached.update(fetched)
        return cached

    def quotas(self, regions: set[str]) -> dict[str, RegionQuotas]:
        """GPU quotas of each region, read with the shapes and cached as long; a region that cannot be read is
        left out (not filtered) and asked again next time."""
        with self._lock:
            cached = {r: q for r, (t, q) in self._quotas.items() if r in regions and self._fresh(t)}
        missing = sorted(regions - set(cached))
        if missing:
            from google.cloud import compute_v1

            def one(region: str) -> RegionQuotas | None:
                request = compute_v1.GetRegionRequest(project=self.project, region=region)
                try:
                    return quotas_of(guarded(lambda: self.clients.regions.get(
                        request=request, retry=None, timeout=self.settings.request_timeout_s)))
                except ProviderError as exc:
                    log.warning("gcp region quotas unavailable; offers there are not filtered by quota",
                                region=region, error_class=type(exc).__name__, raw_code=exc.raw_code)
                    return None

            with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(missing))) as pool:
                fetched = {r: q for r, q in zip(missing, pool.map(one, missing), strict=True) if q is not None}
            now = time.monotonic()
            with self._lock:
                self._quotas.update({r: (now, q) for r, q in fetched.items()})
            cached.update(fetched)
        return cached

    def prices(self) -> PriceSource:
        """Prices for the configured regions (every region when none are configured)."""
        with self._lock:
            if self._prices and self._fresh(self._prices[0]):
                return self._prices[1]
        configured = {region_of(z) for z in self.settings.zones} | set(self.settings.regions)
        source = self._load_prices(configured or None)
        with self._lock:
            self._prices = (time.monotonic(), source)
        return source

    def fresh_prices(self) -> PriceSource:
        """Prices read now, for the daemon's price-only refresh: the Billing Catalog (refreshing the cache),
        raising its error instead of falling back, so the last good live prices stay and the failure
        counts. With billing off, the fallback prices (they do not move)."""
        if not self.settings.use_billing:
            return self.prices()
        configured = {region_of(z) for z in self.settings.zones} | set(self.settings.regions)
        source = guarded(lambda: fetch_billing_prices(self._billing_factory(), configured or None))
        with self._lock:
            self._prices = (time.monotonic(), source)
        return source

    def known_shape(self, zone: str, instance_type: str) -> Shape | None:
        """A shape listed earlier in `zone`, however old (shapes barely change); never asks the API."""
        with self._lock:
            cached = self._shapes.get(zone)
        return next((s for s in cached[1] if s.instance_type == instance_type), None) if cached else None

    def _load_prices(self, regions: set[str] | None) -> PriceSource:
        if self.settings.use_billing:
            try:
                client = self._billing_factory()
                return guarded(lambda: fetch_billing_prices(client, regions))
            except ProviderError as exc:
                log.warning("gcp billing catalog unavailable; using fallback prices",
                            error_class=type(exc).__name__, raw_code=exc.raw_code)
        if self.settings.catalog_path:
            return VmsCatalog.load(Path(self.settings.catalog_path).expanduser())
        return builtin_prices()
