"""Azure VM prices: the public Retail Prices API, with an offline fallback.

The Retail Prices API (no auth) returns `{"Items": [...], "NextPageLink": url|null}`, 1,000 items per
page. Spot meters carry "Spot" in `meterName`; "Low Priority" meters are the retired predecessor and
Windows meters include a licence, so both are skipped. When the API cannot be reached, prices come
from an imported SkyPilot-format catalog (`catalog_path`) or the small built-in table below, and
offers say `source="catalog"` so placement and the CLI can show the price is not live.
"""

from __future__ import annotations

import csv
import json
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# (region, size) -> (on-demand, spot) USD/hour: a snapshot of public list prices, used only when the
# API is unreachable and no catalog is configured. Enough for demos and a cold start.
BUILTIN_PRICES: dict[tuple[str, str], tuple[float, float]] = {
    ("eastus", "Standard_NC4as_T4_v3"): (0.526, 0.204246),
    ("eastus", "Standard_NC6s_v3"): (3.06, 0.565488),
    ("eastus", "Standard_NC24ads_A100_v4"): (3.673, 0.746721),
    ("eastus", "Standard_NC48ads_A100_v4"): (7.346, 1.493442),
    ("eastus", "Standard_ND96asr_v4"): (27.197, 5.98334),
    ("eastus", "Standard_NC40ads_H100_v5"): (6.98, 2.192418),
    ("eastus", "Standard_ND96isr_H100_v5"): (98.32, 18.169536),
    ("eastus", "Standard_NV36ads_A10_v5"): (3.2, 0.59136),
}

MAX_PAGES = 200  # a runaway NextPageLink loop must end
FAILURE_BACKOFF = 300.0  # seconds before a region whose price fetch failed is asked again


class PriceFetchError(Exception):
    """The Retail Prices API could not be read (network, HTTP status or a malformed page)."""


def _urlopen_json(url: str, timeout: float, verify: str | bool) -> dict[str, Any]:
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        if verify is False:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310
            return json.loads(response.read())  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:
        raise PriceFetchError(f"{url}: {exc}") from exc


def iter_retail_items(
    prices_url: str,
    region: str,
    *,
    get_json: Callable[[str], dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    """Every Virtual Machines consumption price item in `region`, following NextPageLink.

    Only links on the same host as `prices_url` are followed, so a malformed page cannot send us
    elsewhere.
    """
    odata = (
        f"serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq '{region}'"
    )
    url: str | None = f"{prices_url}?{urllib.parse.urlencode({'$filter': odata})}"
    origin = urllib.parse.urlsplit(prices_url).netloc
    for _ in range(MAX_PAGES):
        if url is None:
            return
        page = get_json(url)
        if not isinstance(page.get("Items"), list):
            raise PriceFetchError(f"{url}: no Items in the response")
        yield from page["Items"]
        url = page.get("NextPageLink") or None
        if url and urllib.parse.urlsplit(url).netloc != origin:
            raise PriceFetchError(f"refusing to follow NextPageLink to another host: {url}")
    raise PriceFetchError(f"more than {MAX_PAGES} pages of prices for {region}")


def linux_prices(items: Iterator[dict[str, Any]], currency: str = "USD") -> dict[tuple[str, bool], float]:
    """(size, spot) -> hourly price, from retail items: Linux, per hour, no Low Priority meters."""
    prices: dict[tuple[str, bool], float] = {}
    for item in items:
        meter = str(item.get("meterName", ""))
        if "Low Priority" in meter or "Windows" in str(item.get("productName", "")):
            continue
        if item.get("unitOfMeasure", "1 Hour") != "1 Hour" or item.get("currencyCode", currency) != currency:
            continue
        price = float(item.get("retailPrice") or item.get("unitPrice") or 0.0)
        if price <= 0:
            continue
        key = (str(item.get("armSkuName", "")), "Spot" in meter)
        prices[key] = min(price, prices.get(key, price))
    return prices


def load_catalog(path: Path) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """(region, size) -> (on-demand, spot) from a SkyPilot vms.csv.

    Its Generation column holds an unquoted `V1,V2`, which adds an 11th field to some rows; the
    columns we read (size, price, spot price, region) all come before it, so read by position.
    """
    table: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        col = {name: index for index, name in enumerate(header)}
        for row in reader:
            if len(row) < len(header) - 1:
                continue

            def num(name: str, row: list[str] = row) -> float | None:
                text = row[col[name]].strip()
                return float(text) if text else None

            table[(row[col["Region"]], row[col["InstanceType"]])] = (num("Price"), num("SpotPrice"))
    return table


class PriceBook:
    """Prices per region, fetched live at most once per TTL, with the offline fallback.

    Thread-safe: list_offers fans out per location in a thread pool and each region is fetched once.
    """

    def __init__(
        self,
        prices_url: str,
        *,
        ttl_seconds: float = 3600.0,
        catalog_path: str = "",
        currency: str = "USD",
        verify: str | bool = True,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prices_url = prices_url
        self.ttl_seconds = ttl_seconds
        self.catalog_path = catalog_path
        self.currency = currency
        self._get_json = lambda url: _urlopen_json(url, timeout, verify)
        self._clock = clock
        self._live: dict[str, tuple[float, dict[tuple[str, bool], float]]] = {}
        self._catalog: dict[tuple[str, str], tuple[float | None, float | None]] | None = None
        self._failed_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self.last_error: str = ""

    def region(self, region: str) -> dict[tuple[str, bool], float] | None:
        """Live prices for one region (cached), or None when the API failed (fallback applies)."""
        cached = self._live.get(region)
        now = self._clock()
        if cached and now - cached[0] < self.ttl_seconds:
            return cached[1]
        if now - self._failed_at.get(region, -FAILURE_BACKOFF) < FAILURE_BACKOFF:
            return cached[1] if cached else None  # do not hammer an API that just failed
        try:
            prices = linux_prices(
                iter_retail_items(self.prices_url, region, get_json=self._get_json), self.currency
            )
        except PriceFetchError as exc:
            self.last_error = str(exc)
            self._failed_at[region] = now
            return cached[1] if cached else None  # a stale live price beats a catalog price
        with self._lock:
            self._live[region] = (self._clock(), prices)
        return prices

    def fetch(self, region: str) -> dict[tuple[str, bool], float]:
        """Live prices for one region read now, for the daemon's price-only refresh (the cache is renewed).

        Raises PriceFetchError instead of falling back: the daemon keeps its last good live prices and
        counts the failure, where `price` would quietly answer from the catalog.
        """
        try:
            prices = linux_prices(iter_retail_items(self.prices_url, region, get_json=self._get_json), self.currency)
        except PriceFetchError as exc:
            self.last_error = str(exc)
            with self._lock:
                self._failed_at[region] = self._clock()
            raise
        with self._lock:
            self._live[region] = (self._clock(), prices)
            self._failed_at.pop(region, None)
        return prices

    def _fallback(self) -> dict[tuple[str, str], tuple[float | None, float | None]]:
        with self._lock:
            if self._catalog is None:
                path = Path(self.catalog_path) if self.catalog_path else None
                self._catalog = load_catalog(path) if path and path.is_file() else dict(BUILTIN_PRICES)
            return self._catalog

    def price(self, region: str, size: str, spot: bool) -> tuple[float, str] | None:
        """(hourly price, "live" | "catalog") for one pool's market, or None when nobody knows it."""
        live = self.region(region)
        if live is not None:
            value = live.get((size, spot))
            if value:
                return value, "live"
        on_demand, spot_price = self._fallback().get((region, size), (None, None))
        value = spot_price if spot else on_demand
        return (value, "catalog") if value else None
