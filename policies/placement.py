"""Placement: which offers satisfy a job, cheapest first, with the reason attached. Pure.

The daemon and the simulator call `rank_offers`; adapters never decide placement.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Literal

from providers.base import Offer

Pool = tuple[str, str, str, str, bool]

# Names users write -> the canonical model names adapters report.
GPU_ALIASES: dict[str, str] = {
    "A100-40GB": "A100",
    "A100-40G": "A100",
    "A100-80G": "A100-80GB",
    "H100-80GB": "H100",
    "H100-SXM": "H100",
    "V100-16GB": "V100",
    "TESLA-T4": "T4",
    "NVIDIA-L4": "L4",
}


def canonical_gpu(name: str) -> str:
    upper = name.strip().upper()
    return GPU_ALIASES.get(upper, upper)


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """What one node of a job needs, in plain data."""

    gpu_model: str | None = None
    gpu_count: int = 0
    spot: bool | Literal["auto"] = "auto"
    clouds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    instance_type: str | None = None
    min_vcpus: float | None = None
    min_memory_gb: float | None = None
    max_price_per_hour: float | None = None


@dataclass(frozen=True, slots=True)
class RankedOffer:
    offer: Offer
    reason: str


def rejection(req: PlacementRequest, offer: Offer) -> str | None:
    """Why `offer` cannot serve `req`, or None when it can."""
    if req.gpu_model is not None:
        if canonical_gpu(offer.gpu_model) != canonical_gpu(req.gpu_model):
            return f"GPU {offer.gpu_model or 'none'} is not {req.gpu_model}"
        if offer.gpu_count != req.gpu_count:
            return f"has {offer.gpu_count} GPUs, job needs {req.gpu_count}"
    if req.spot is True and not offer.spot:
        return "on-demand, job asks for spot"
    if req.spot is False and offer.spot:
        return "spot, job asks for on-demand"
    if req.clouds and offer.cloud not in req.clouds:
        return f"cloud {offer.cloud} not allowed"
    if req.regions and offer.region not in req.regions:
        return f"region {offer.region} not allowed"
    if req.zones and offer.zone not in req.zones:
        return f"zone {offer.zone} not allowed"
    if req.instance_type and offer.instance_type != req.instance_type:
        return f"type {offer.instance_type} is not {req.instance_type}"
    if req.min_vcpus is not None and offer.vcpus < req.min_vcpus:
        return f"{offer.vcpus:g} vCPUs < {req.min_vcpus:g}"
    if req.min_memory_gb is not None and offer.memory_gb < req.min_memory_gb:
        return f"{offer.memory_gb:g} GB memory < {req.min_memory_gb:g}"
    if req.max_price_per_hour is not None and offer.price_per_hour > req.max_price_per_hour:
        return f"${offer.price_per_hour:.4f}/h over the cap ${req.max_price_per_hour:.4f}/h"
    return None


def rank_offers(
    req: PlacementRequest, offers: Iterable[Offer], blocked: Collection[Pool] = frozenset()
) -> list[RankedOffer]:
    """Satisfying, unblocked offers, cheapest first (ties: spot, then stable by pool name)."""
    ranked = []
    for offer in offers:
        if rejection(req, offer) is None and offer.pool not in blocked:
            market = "spot" if offer.spot else "on-demand"
            ranked.append(RankedOffer(offer, f"{market} ${offer.price_per_hour:.4f}/h in {offer.zone}"))
    ranked.sort(key=lambda r: (r.offer.price_per_hour, not r.offer.spot, r.offer.pool))
    for position, item in enumerate(ranked[:1]):
        ranked[position] = RankedOffer(item.offer, f"cheapest matching: {item.reason} "
                                                    f"(of {len(ranked)} candidates)")
    return ranked
