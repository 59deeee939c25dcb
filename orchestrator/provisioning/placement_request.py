"""The one place a `PlacementRequest` is built: from a job's spec, or from the offers view's filters.

Why one builder: the launcher, `/v1/offers?for_job=`, the submit-time feasibility check and `submit --dry-run` all
rank a job's offers, and each answer is only honest while they read the spec the same way (GPU options, market,
price per node of a gang, carbon price). What legitimately differs between them is an explicit argument here, so a
reader sees each difference at the call site instead of in a copy of the mapping:

- `spot`: the market asked now. The launcher and the dry run turn `spot: auto` into "spot first" until the job has
  waited `spot_auto_fallback_seconds` (`placement_state.spot_mode`); None keeps the spec's own value.
- `carbon_prices`: the teams' carbon prices from settings (a job's own `carbon_price` wins over its team's).
- `limits`: the policy file's caps for the job (the launcher's); None applies only the job's own `max_price_per_hour`.

The deadline policy's market and zone choice, blocks and priors are decisions taken on a built request (they need
it to rank), so they stay with their callers; the request itself is data and never changes the spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from orchestrator.jobs.models import Accelerators, JobSpec
from policies.caps import JobLimits, price_limit
from policies.placement import PlacementRequest

__all__ = ["filter_request", "node_price", "placement_request_for"]

Market = bool | Literal["auto"]


def node_price(gang_price: float | None, nodes: int) -> float | None:
    """The per-instance share of a price for the whole job (None stays None)."""
    return None if gang_price is None else gang_price / max(1, nodes)


def placement_request_for(spec: JobSpec, *, spot: Market | None = None,
                          carbon_prices: Mapping[str, float] | None = None,
                          limits: JobLimits | None = None) -> PlacementRequest:
    """The job's needs as placement data; carbon price: the job's own, else its team's, else 0.

    The price filter is per instance: the job's price ceiling (its own `max_price_per_hour`, lowered by the policy
    file's cap when `limits` is given) is for the whole gang and is split over its nodes.
    """
    res = spec.resources
    acc = res.accelerators
    carbon = res.carbon_price if res.carbon_price is not None else (carbon_prices or {}).get(spec.team, 0.0)
    ceiling = res.max_price_per_hour if limits is None else price_limit(limits, res.max_price_per_hour)
    return PlacementRequest(
        gpu_model=acc.model if acc else None, gpu_count=acc.count if acc else 0,
        spot=res.spot if spot is None else spot,
        clouds=tuple(res.clouds), regions=tuple(res.regions), zones=tuple(res.zones),
        instance_type=res.instance_type, min_vcpus=res.cpus, min_memory_gb=res.memory_gb,
        max_price_per_hour=node_price(ceiling, res.num_nodes), carbon_price=carbon,
        num_nodes=res.num_nodes,
        gpu_candidates=tuple((c.model, c.count) for c in res.accelerator_candidates),
        gpu_order=res.candidate_order,
    )


def filter_request(wanted: Sequence[Accelerators], *, market: Literal["spot", "on-demand", "any"] = "any",
                   clouds: Sequence[str] = (), regions: Sequence[str] = (), zones: Sequence[str] = (),
                   instance_type: str | None = None, min_vcpus: float | None = None,
                   min_memory_gb: float | None = None, min_gpu_memory_gb: float | None = None,
                   max_price: float | None = None, carbon_price: float = 0.0) -> PlacementRequest:
    """The offers view's filters (`/v1/offers` without `for_job`) as a request: the first GPU asked is the model,
    the others are candidates ranked together; the market names map onto the spec's `spot` values."""
    acc = wanted[0] if wanted else None
    spot: Market = {"spot": True, "on-demand": False}.get(market, "auto")  # type: ignore[assignment]
    return PlacementRequest(
        gpu_model=acc.model if acc else None, gpu_count=acc.count if acc else 0,
        gpu_candidates=tuple((a.model, a.count) for a in wanted[1:]), spot=spot,
        clouds=tuple(clouds), regions=tuple(regions), zones=tuple(zones), instance_type=instance_type,
        min_vcpus=min_vcpus, min_memory_gb=min_memory_gb, min_gpu_memory_gb=min_gpu_memory_gb,
        max_price_per_hour=max_price, carbon_price=carbon_price)
