"""On-demand prices: the AWS Pricing API, with a small built-in table when it cannot be reached.

Why a fallback: the Pricing API lives in three regions only, needs its own permission, and is
absent from EC2-compatible clouds and moto. A spot offer without an on-demand reference still
places; an on-demand offer priced from the table is marked `source="catalog"`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any

from providers.aws.errors import SDK_ERRORS
from providers.aws.session import ClientFactory

# us-east-1 Linux on-demand list prices, USD/hour (public price list, mid-2025, after the June 2025
# P4/P5 price cut). Used for every region when the Pricing API is unavailable: an approximation.
BUILTIN_ON_DEMAND: dict[str, float] = {
    "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176,
    "g4dn.12xlarge": 3.912, "g4dn.16xlarge": 4.352, "g4dn.metal": 7.824,
    "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448,
    "g5.12xlarge": 5.672, "g5.16xlarge": 4.096, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288,
    "g6.xlarge": 0.8048, "g6.2xlarge": 0.9776, "g6.4xlarge": 1.3232, "g6.8xlarge": 2.0144,
    "g6.12xlarge": 4.6016, "g6.16xlarge": 3.3968, "g6.24xlarge": 6.6752, "g6.48xlarge": 13.3504,
    "g6e.xlarge": 1.861, "g6e.2xlarge": 2.24208, "g6e.12xlarge": 10.49264, "g6e.48xlarge": 30.13118,
    "p3.2xlarge": 3.06, "p3.8xlarge": 12.24, "p3.16xlarge": 24.48, "p3dn.24xlarge": 31.212,
    "p4d.24xlarge": 21.96, "p4de.24xlarge": 27.45, "p5.48xlarge": 55.04,
}

_FILTERS = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}


def parse_price_item(item: str | dict[str, Any]) -> float | None:
    """USD/hour from one get_products PriceList entry (a JSON string), or None."""
    data = json.loads(item) if isinstance(item, str) else item
    for term in data.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = dimension.get("pricePerUnit", {}).get("USD")
            if usd is not None and float(usd) > 0:
                return float(usd)
    return None


class OnDemandPrices:
    """Region x type -> price, cached (list prices change a few times a year)."""

    def __init__(self, clients: ClientFactory, *, enabled: bool, region: str, ttl_s: float = 6 * 3600,
                 failure_backoff_s: float = 600) -> None:
        self.clients = clients
        self.enabled = enabled
        self.region = region
        self.ttl_s = ttl_s
        self.failure_backoff_s = failure_backoff_s
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, float]] = {}  # key -> (price, fetched monotonic)
        self._failed_at: float | None = None

    def prices(self, region: str, types: Iterable[str]) -> dict[str, tuple[float, str]]:
        """type -> (price, source) where source is "live" (Pricing API) or "catalog" (built-in table)."""
        out: dict[str, tuple[float, str]] = {}
        now = time.monotonic()
        for instance_type in sorted(set(types)):
            with self._lock:
                cached = self._cache.get((region, instance_type))
            if cached is not None and now - cached[1] < self.ttl_s:
                out[instance_type] = (cached[0], "live")
                continue
            live = self._fetch(region, instance_type)
            if live is not None:
                with self._lock:
                    self._cache[(region, instance_type)] = (live, time.monotonic())
                out[instance_type] = (live, "live")
            elif instance_type in BUILTIN_ON_DEMAND:
                out[instance_type] = (BUILTIN_ON_DEMAND[instance_type], "catalog")
        return out

    def _api_available(self) -> bool:
        if not self.enabled:
            return False
        with self._lock:
            return self._failed_at is None or time.monotonic() - self._failed_at > self.failure_backoff_s

    def _fetch(self, region: str, instance_type: str) -> float | None:
        if not self._api_available():
            return None
        filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v}
                   for k, v in {**_FILTERS, "regionCode": region, "instanceType": instance_type}.items()]
        try:
            response = self.clients.client("pricing", self.region).get_products(
                ServiceCode="AmazonEC2", Filters=filters, FormatVersion="aws_v1", MaxResults=10
            )
        except SDK_ERRORS:
            # Unreachable, not permitted or not implemented: use the table for a while.
            with self._lock:
                self._failed_at = time.monotonic()
            return None
        for item in response.get("PriceList", []):
            price = parse_price_item(item)
            if price is not None:
                return price
        return None
