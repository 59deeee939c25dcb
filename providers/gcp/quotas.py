"""Regional GPU quotas from `regions.get`, so offers stop short of the quota walls GCE would hit at launch.

Why: a new project has no GPU quota in most regions, and quota was learned one failed launch at a time (each a
`QUOTA_EXCEEDED` that blocks the region for a while). `regions.get` lists every regional quota with its limit and
usage: `NVIDIA_<GPU>_GPUS` for on-demand VMs, `PREEMPTIBLE_NVIDIA_<GPU>_GPUS` for Spot VMs. Spot VMs take
preemptible quota where the project has been granted some, else the standard quota
(https://cloud.google.com/compute/resource-usage, "Preemptible quota"). The project-wide `GPUS_ALL_REGIONS` quota is
not read here; a launch over it still fails with a quota error and blocks as before.

Read with the instance-type listing and cached for as long (`cache_ttl_s`); a region whose quotas cannot be read
(permission, outage) is not filtered: quota is a hint for placement, never a reason to offer nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from providers.base import Offer


@dataclass(frozen=True, slots=True)
class Quota:
    limit: float
    usage: float

    @property
    def headroom(self) -> float:
        return max(0.0, self.limit - self.usage)


RegionQuotas = Mapping[str, Quota]  # metric -> quota, for one region


def metric_for(gpu_model: str, *, spot: bool) -> str:
    """T4 -> NVIDIA_T4_GPUS, A100-80GB -> NVIDIA_A100_80GB_GPUS; PREEMPTIBLE_ in front for Spot."""
    base = f"NVIDIA_{gpu_model.upper().replace('-', '_')}_GPUS"
    return f"PREEMPTIBLE_{base}" if spot else base


def quotas_of(region: object) -> dict[str, Quota]:
    """{metric: Quota} from a compute_v1.Region."""
    return {str(q.metric): Quota(float(q.limit), float(q.usage)) for q in getattr(region, "quotas", [])}


def gpu_headroom(quotas: RegionQuotas, gpu_model: str, *, spot: bool) -> float | None:
    """GPUs of this model one more VM may take in the region; None when the region lists no such quota."""
    if spot:
        preemptible = quotas.get(metric_for(gpu_model, spot=True))
        if preemptible is not None and preemptible.limit > 0:
            return preemptible.headroom
    standard = quotas.get(metric_for(gpu_model, spot=False))
    return standard.headroom if standard is not None else None


def within_quota(offers: Iterable[Offer], by_region: Mapping[str, RegionQuotas]) -> list[Offer]:
    """The offers whose GPUs fit the region's quota headroom (regions with unknown quotas pass unfiltered)."""
    kept = []
    for offer in offers:
        quotas = by_region.get(offer.region)
        room = gpu_headroom(quotas, offer.gpu_model, spot=offer.spot) if quotas else None
        if room is None or offer.gpu_count <= room:
            kept.append(offer)
    return kept
