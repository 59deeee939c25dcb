"""Azure VM sizes -> Spotwise offers: GPU model names, zones, restrictions, markets.

The resource SKU listing (`resource_skus.list`, one call per location) is the source: it carries
vCPUs, memory, GPU count, spot eligibility (`LowPriorityCapable`), zones, and restrictions such as
NotAvailableForSubscription. It does not name the GPU model, so the size name does (the table
below). Sizes that slice one GPU between VMs have no whole GPU and are offered as CPU-only sizes
would be: skipped by a GPU query.

Sizes the VM image cannot drive are left out of offers entirely (`NEEDS_OTHER_DRIVER`): the image
(Microsoft's Data Science VM, or the operator's) carries NVIDIA's datacenter CUDA driver, which
- NVadsA10 v5 cannot use: its A10 is a vGPU that needs NVIDIA's GRID driver
  (https://learn.microsoft.com/en-us/azure/virtual-machines/nva10v5-series);
- ND MI300X v5 and NVv4 cannot use: their GPUs are AMD's (MI300X, MI25), driven by ROCm / AMD drivers
  (https://learn.microsoft.com/en-us/azure/virtual-machines/nvv4-series).
Offering them would start VMs, billed, on which the job never sees a GPU. Supporting them means a
GRID driver extension or a ROCm image chosen per size; until then they are not offered.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from providers.base import Offer, OfferQuery
from providers.gpus import canonical_gpu

# (pattern on the size name without "Standard_", canonical model, GPU memory in GB). First match wins.
GPU_FAMILIES: tuple[tuple[re.Pattern[str], str, float], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), canonical_gpu(model), memory)  # names from the one shared vocabulary
    for pattern, model, memory in (
        (r"^ND\d+is?r_H200_v5$", "H200", 141.0),
        (r"^N[CD]\d+\w*_H100_v5$", "H100", 80.0),  # NCads H100 v5 (94 GB NVL counted as H100), ND H100 v5
        (r"^NC\d+ads_A100_v4$", "A100-80GB", 80.0),  # NC A100 v4
        (r"^ND\d+amsr_A100_v4$", "A100-80GB", 80.0),  # NDm A100 v4
        (r"^ND\d+asr_v4$", "A100", 40.0),  # ND A100 v4
        (r"^ND\d+isr_MI300X_v5$", "MI300X", 192.0),
        (r"^ND\d+rs_v2$", "V100-32GB", 32.0),  # ND v2
        (r"^NC\d+r?s_v3$", "V100", 16.0),  # NCv3
        (r"^NC\d+as_T4_v3$", "T4", 16.0),
        (r"^N[CV]\d+ad[m]?s_A10_v[45]$", "A10", 24.0),
        (r"^NC\d+r?s_v2$", "P100", 16.0),
        (r"^ND\d+r?s$", "P40", 24.0),
        (r"^NC\d+r?(_Promo)?$", "K80", 12.0),
        (r"^NV\d+(s_v3|_Promo)?$", "M60", 8.0),
        (r"^NV\d+as_v4$", "MI25", 16.0),
    )
)


# Sizes that get a slice of one GPU (the SKU listing may still report "GPUs: 1"): never a whole GPU.
PARTIAL_GPU = re.compile(r"^(NV(6|12|18)ads_A10_v5|NV(4|8|16)as_v4)$", re.IGNORECASE)


# Sizes the image cannot drive (module docstring): never offered, whatever the SKU listing says.
NEEDS_OTHER_DRIVER = re.compile(r"^(NV\d+ads_A10_v5|ND\d+isr_MI300X_v5|NV\d+as_v4)$", re.IGNORECASE)


def gpu_family(size_name: str) -> tuple[str, float] | None:
    """(canonical model, GPU memory GB) for an Azure size name, or None for a size without GPUs."""
    short = size_name.removeprefix("Standard_")
    for pattern, model, memory in GPU_FAMILIES:
        if pattern.match(short):
            return model, memory
    return None


@dataclass(frozen=True, slots=True)
class SizeInfo:
    """One VM size in one location, as the resource SKU listing describes it."""

    name: str
    location: str
    vcpus: float
    memory_gb: float
    gpu_model: str
    gpu_count: int
    gpu_memory_gb: float
    zones: tuple[str, ...]  # usable zone numbers ("1", "2", "3"); empty = regional only
    spot_capable: bool
    family: str = ""  # the SKU's quota family, e.g. standardNCADSA100v4Family (quotas.py)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Read a field from an SDK model or a plain dict. SDK enums become their wire string, because
    `str()` of a (str, Enum) member is "Type.MEMBER" on Python 3.11, not the value."""
    value = getattr(obj, name, None)
    if value is None and isinstance(obj, dict):
        value = obj.get(name)
    if isinstance(value, enum.Enum):
        value = value.value
    return default if value is None else value


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def parse_sku(sku: Any, location: str) -> SizeInfo | None:
    """A resource SKU -> SizeInfo, or None when the size is unusable here (restricted, not a VM)."""
    if str(_get(sku, "resource_type", "")).lower() != "virtualmachines":
        return None
    zones: set[str] = set()
    regional = False
    for info in _get(sku, "location_info", []):
        if str(_get(info, "location", "")).lower() == location.lower():
            regional = True
            zones.update(str(z) for z in _get(info, "zones", []))
    if not regional:
        return None
    for restriction in _get(sku, "restrictions", []):
        kind = str(_get(restriction, "type", ""))
        if kind == "Location":
            return None  # e.g. NotAvailableForSubscription for this whole location
        if kind == "Zone":
            zones.difference_update(
                str(z) for z in _get(_get(restriction, "restriction_info", {}), "zones", [])
            )
            if not zones:
                return None
    name = str(_get(sku, "name", ""))
    if NEEDS_OTHER_DRIVER.match(name.removeprefix("Standard_")):
        return None
    caps = {str(_get(c, "name", "")): str(_get(c, "value", "")) for c in _get(sku, "capabilities", [])}
    family = gpu_family(name)
    gpus = _number(caps.get("GPUs"))
    partial = bool(PARTIAL_GPU.match(name.removeprefix("Standard_")))
    whole_gpus = int(gpus) if gpus >= 1 and gpus == int(gpus) and not partial else 0
    model, gpu_memory = family if family and whole_gpus else ("", 0.0)
    return SizeInfo(
        name=name,
        location=location,
        vcpus=_number(caps.get("vCPUs")),
        memory_gb=_number(caps.get("MemoryGB")),
        gpu_model=model,
        gpu_count=whole_gpus if model else 0,
        gpu_memory_gb=gpu_memory * whole_gpus if model else 0.0,
        zones=tuple(sorted(zones)),
        spot_capable=caps.get("LowPriorityCapable", "False").lower() == "true",
        family=str(_get(sku, "family", "")),
    )


def zone_label(location: str, zone: str | None) -> str:
    """Spotwise zone name: "eastus-1" for Azure zone "1"; the location itself when not zonal."""
    return f"{location}-{zone}" if zone else location


def azure_zone(location: str, label: str) -> str | None:
    """Inverse of zone_label: the Azure zone number, or None for a regional placement."""
    prefix = f"{location}-"
    return label[len(prefix) :] if label.startswith(prefix) else None


def wanted(size: SizeInfo, query: OfferQuery) -> bool:
    """Apply the query's GPU filter (a hint, but cheap to apply exactly here)."""
    if query.gpu_model and size.gpu_model != canonical_gpu(query.gpu_model):
        return False
    return not (query.gpu_count and size.gpu_count < query.gpu_count)


PriceLookup = Any  # Callable[[str, str, bool], tuple[float, str] | None]: (price, source)


def build_offers(
    sizes: Iterable[SizeInfo],
    query: OfferQuery,
    price_of: PriceLookup,
    fetched_at: datetime,
    allows: Callable[[SizeInfo, bool], bool] | None = None,
) -> list[Offer]:
    """One offer per (size, zone, market) that has a price and, when `allows` is given (the quotas),
    fits it; pools without a price are left out."""
    offers: list[Offer] = []
    markets = [True, False] if query.spot is None else [query.spot]
    for size in sizes:
        if not wanted(size, query):
            continue
        on_demand = price_of(size.location, size.name, False)
        for spot in markets:
            if (spot and not size.spot_capable) or (allows is not None and not allows(size, spot)):
                continue
            priced = on_demand if not spot else price_of(size.location, size.name, True)
            if priced is None or priced[0] <= 0:
                continue
            for zone in size.zones or (None,):
                offers.append(
                    Offer(
                        cloud="azure",
                        region=size.location,
                        zone=zone_label(size.location, zone),
                        instance_type=size.name,
                        gpu_model=size.gpu_model,
                        gpu_count=size.gpu_count,
                        vcpus=size.vcpus,
                        memory_gb=size.memory_gb,
                        spot=spot,
                        price_per_hour=priced[0],
                        price_fetched_at=fetched_at,
                        gpu_memory_gb=size.gpu_memory_gb,
                        on_demand_price=on_demand[0] if on_demand else None,
                        source=priced[1],
                    )
                )
    return offers
