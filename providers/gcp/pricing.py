"""Prices from the Cloud Billing Catalog: a GPU offer costs host vCPUs + host RAM + its GPUs.

GCE bills a GPU machine as separate SKUs: "<Family> Instance Core", "<Family> Instance Ram" and
"Nvidia <GPU> GPU", each per region and per usage type (`OnDemand`, `Preemptible` = Spot). That
holds for N1 hosts with attached GPUs *and* for the accelerator-optimised a2/a3/g2 families, so
one rule prices both: vcpus x core + GiB x ram + count x gpu. The SKU description identifies the
product; `category.usage_type` (not the "Spot Preemptible" prefix) identifies the market.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from providers.gcp.shapes import Shape

COMPUTE_SERVICE = "services/6F81-5844-456A"  # Compute Engine in the Cloud Billing Catalog
USAGE_MARKET = {"OnDemand": False, "Preemptible": True}
ANY_REGION = "*"

_GPU_SKU = re.compile(r"nvidia (?:tesla )?(a100 80gb|a100|h100 80gb|l4|t4|v100|p100|p4) gpu running in", re.I)
_GPU_NAMES = {"a100 80gb": "A100-80GB", "a100": "A100", "h100 80gb": "H100", "l4": "L4", "t4": "T4",
              "v100": "V100", "p100": "P100", "p4": "P4"}
_HOST_SKU = re.compile(r"^(?:spot preemptible )?(n1 predefined|a2|a3|g2) instance (core|ram) running in", re.I)
_HOST_FAMILY = {"n1 predefined": "n1", "a2": "a2", "a3": "a3", "g2": "g2"}


class PriceSource(Protocol):
    """Anything that can price a shape in a zone and market (billing, built-in table, vms.csv)."""

    source: str
    fetched_at: datetime

    def quote(self, region: str, zone: str, shape: Shape, spot: bool) -> float | None: ...


@dataclass
class UnitPrices:
    """Per-unit hourly prices keyed by (region, family-or-gpu, spot); ANY_REGION applies everywhere."""

    source: str
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    cores: dict[tuple[str, str, bool], float] = field(default_factory=dict)
    ram: dict[tuple[str, str, bool], float] = field(default_factory=dict)
    gpus: dict[tuple[str, str, bool], float] = field(default_factory=dict)

    def _get(self, table: dict[tuple[str, str, bool], float], region: str, key: str, spot: bool) -> float | None:
        value = table.get((region, key, spot))
        return table.get((ANY_REGION, key, spot)) if value is None else value

    def quote(self, region: str, zone: str, shape: Shape, spot: bool) -> float | None:
        core = self._get(self.cores, region, shape.family, spot)
        ram = self._get(self.ram, region, shape.family, spot)
        if core is None or ram is None:
            return None
        price = shape.vcpus * core + shape.memory_gb * ram
        if shape.gpu_count:
            gpu = self._get(self.gpus, region, shape.gpu_model, spot)
            if gpu is None:
                return None
            price += shape.gpu_count * gpu
        return round(price, 6)


def unit_price(sku: Any) -> float | None:
    """USD per usage unit of a SKU's current pricing: the last tier (the first is often a free tier)."""
    if not sku.pricing_info:
        return None
    rates = sku.pricing_info[0].pricing_expression.tiered_rates
    if not rates:
        return None
    money = rates[-1].unit_price
    return money.units + money.nanos / 1e9


def prices_from_skus(skus: Iterable[Any], regions: set[str] | None = None) -> UnitPrices:
    """Assemble unit prices from billing SKUs; `regions` limits what is kept (None = all)."""
    book = UnitPrices(source="live")
    for sku in skus:
        spot = USAGE_MARKET.get(sku.category.usage_type)
        if spot is None or sku.category.resource_family != "Compute":
            continue
        price = unit_price(sku)
        if price is None:
            continue
        description = sku.description
        gpu = _GPU_SKU.search(description)
        host = None if gpu else _HOST_SKU.search(description)
        if not gpu and not host:
            continue
        for region in sku.service_regions:
            if regions is not None and region not in regions:
                continue
            if gpu:
                book.gpus[(region, _GPU_NAMES[gpu.group(1).lower()], spot)] = price
            elif host:
                table = book.cores if host.group(2).lower() == "core" else book.ram
                table[(region, _HOST_FAMILY[host.group(1).lower()], spot)] = price
    return book


def fetch_billing_prices(client: Any, regions: set[str] | None, page_size: int = 5000) -> UnitPrices:
    """Page through the Compute Engine SKUs (thousands; the pager follows nextPageToken)."""
    from google.cloud import billing_v1

    request = billing_v1.ListSkusRequest(parent=COMPUTE_SERVICE, page_size=page_size, currency_code="USD")
    return prices_from_skus(client.list_skus(request=request, retry=None), regions)


# Approximate us-central1 list prices (USD/hour), used for every region when neither the Billing
# Catalog nor an imported catalog answers. Offers priced from it say source="catalog".
_BUILTIN_HOST = {  # family: (core on-demand, core spot, GiB on-demand, GiB spot)
    "n1": (0.031611, 0.006655, 0.004237, 0.000892),
    "a2": (0.031611, 0.009483, 0.004237, 0.001271),
    "a3": (0.029563, 0.011825, 0.003963, 0.001585),
    "g2": (0.024988, 0.009995, 0.002927, 0.001171),
}
_BUILTIN_GPU = {  # gpu: (on-demand, spot)
    "T4": (0.35, 0.1654), "V100": (2.48, 1.24), "P100": (1.46, 0.73), "P4": (0.60, 0.2002),
    "A100": (2.933908, 1.4341), "A100-80GB": (3.92808, 1.5712), "H100": (10.98, 4.39), "L4": (0.56004, 0.2343),
}


def builtin_prices() -> UnitPrices:
    book = UnitPrices(source="catalog")
    for family, (core, core_spot, ram, ram_spot) in _BUILTIN_HOST.items():
        book.cores[(ANY_REGION, family, False)], book.cores[(ANY_REGION, family, True)] = core, core_spot
        book.ram[(ANY_REGION, family, False)], book.ram[(ANY_REGION, family, True)] = ram, ram_spot
    for gpu, (on_demand, spot) in _BUILTIN_GPU.items():
        book.gpus[(ANY_REGION, gpu, False)], book.gpus[(ANY_REGION, gpu, True)] = on_demand, spot
    return book
