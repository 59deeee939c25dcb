"""Cloud Billing Catalog SKUs for the fake server, shaped like the real `services.skus.list` JSON.

The prices are the fake's own numbers (not the adapter's built-in table), so a test that checks
an offer price against them checks the adapter's assembly, not a copy of itself. Distractor SKUs
(commitments, virtual workstations, a free first tier) are included on purpose.
"""

from __future__ import annotations

from typing import Any

COMPUTE_SERVICE_ID = "6F81-5844-456A"
GEOGRAPHY = {"us-central1": "Americas", "europe-west4": "Netherlands"}
REGION_FACTOR = {"us-central1": 1.0, "europe-west4": 1.1}

# family -> description stem, (core on-demand, core spot), (GiB-hour on-demand, GiB-hour spot)
HOST_SKUS: dict[str, tuple[str, tuple[float, float], tuple[float, float]]] = {
    "n1": ("N1 Predefined Instance", (0.0316, 0.0070), (0.0042, 0.0009)),
    "a2": ("A2 Instance", (0.0316, 0.0100), (0.0042, 0.0013)),
    "a3": ("A3 Instance", (0.0300, 0.0120), (0.0040, 0.0016)),
    "g2": ("G2 Instance", (0.0250, 0.0100), (0.0030, 0.0012)),
}
# canonical gpu -> description stem, (on-demand, spot) per GPU-hour
GPU_SKUS: dict[str, tuple[str, tuple[float, float]]] = {
    "T4": ("Nvidia Tesla T4", (0.35, 0.14)),
    "V100": ("Nvidia Tesla V100", (2.48, 0.99)),
    "A100": ("Nvidia Tesla A100", (2.93, 1.17)),
    "A100-80GB": ("Nvidia A100 80GB", (3.93, 1.57)),
    "H100": ("Nvidia H100 80GB", (11.06, 4.42)),
    "L4": ("Nvidia L4", (0.56, 0.22)),
}


def unit_price(region: str, base: float) -> float:
    return round(base * REGION_FACTOR[region], 6)


def _money(price: float) -> dict[str, Any]:
    units = int(price)
    return {"currencyCode": "USD", "units": str(units), "nanos": round((price - units) * 1e9)}


def _sku(n: int, description: str, group: str, usage: str, region: str, price: float, unit: str = "h",
         free_tier: bool = False) -> dict[str, Any]:
    tiers = [{"startUsageAmount": 0, "unitPrice": _money(0.0)}] if free_tier else []
    tiers.append({"startUsageAmount": 1 if free_tier else 0, "unitPrice": _money(price)})
    sku_id = f"{n:04X}-{n * 7 % 65536:04X}-{n * 13 % 65536:04X}"
    return {
        "name": f"services/{COMPUTE_SERVICE_ID}/skus/{sku_id}", "skuId": sku_id, "description": description,
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": "Compute",
                     "resourceGroup": group, "usageType": usage},
        "serviceRegions": [region],
        "pricingInfo": [{"summary": "", "pricingExpression": {
            "usageUnit": unit, "usageUnitDescription": "hour", "baseUnit": "s", "baseUnitConversionFactor": 3600,
            "displayQuantity": 1, "tieredRates": tiers}, "effectiveTime": "2026-11-01T00:00:00Z"}],
        "serviceProviderName": "Google",
    }


def build_skus(regions: list[str]) -> list[dict[str, Any]]:
    skus: list[dict[str, Any]] = []
    for region in regions:
        geo = GEOGRAPHY.get(region, region)
        for stem, (core, ram) in ((s, (c, r)) for s, c, r in HOST_SKUS.values()):
            for usage, idx, prefix in (("OnDemand", 0, ""), ("Preemptible", 1, "Spot Preemptible ")):
                skus.append(_sku(len(skus), f"{prefix}{stem} Core running in {geo}", "CPU", usage, region,
                                 unit_price(region, core[idx])))
                skus.append(_sku(len(skus), f"{prefix}{stem} Ram running in {geo}", "RAM", usage, region,
                                 unit_price(region, ram[idx]), unit="GiBy.h", free_tier=True))
        for stem, prices in GPU_SKUS.values():
            for usage, idx, prefix in (("OnDemand", 0, ""), ("Preemptible", 1, "Spot Preemptible ")):
                skus.append(_sku(len(skus), f"{prefix}{stem} GPU running in {geo}", "GPU", usage, region,
                                 unit_price(region, prices[idx])))
        # Distractors the adapter must ignore.
        skus.append(_sku(len(skus), f"Commitment v1: Nvidia Tesla T4 GPU running in {geo}", "GPU", "Commit1Yr",
                         region, 0.01))
        skus.append(_sku(len(skus), f"Nvidia Tesla T4 Virtual Workstation GPU running in {geo}", "GPU",
                         "OnDemand", region, 0.02))
    return skus


def expected_price(region: str, family: str, vcpus: float, memory_gb: float, gpu: str, count: int,
                   spot: bool) -> float:
    """What the bill says an instance costs per hour, from this module's own numbers."""
    idx = 1 if spot else 0
    _, core, ram = HOST_SKUS[family]
    price = vcpus * unit_price(region, core[idx]) + memory_gb * unit_price(region, ram[idx])
    if count:
        price += count * unit_price(region, GPU_SKUS[gpu][1][idx])
    return price
