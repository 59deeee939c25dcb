"""Gang placement: N nodes of one job, all in one zone of one offer, launched all or none. Pure.

Nodes of a gang talk to each other (NCCL, MPI), so splitting them across zones costs
bandwidth and cross-zone traffic; one pool also means one price. A pool whose known free
capacity is below N (a placement-score or a failed partial launch told us) is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from policies.placement import RankedOffer
from providers.base import Offer

Pool = tuple[str, str, str, str, bool]


@dataclass(frozen=True, slots=True)
class GangPlan:
    offer: Offer
    nodes: int
    total_price_per_hour: float
    reason: str


def plan_gang(ranked: list[RankedOffer], nodes: int,
              capacity: Mapping[Pool, int] | None = None) -> list[GangPlan]:
    """Gang plans in ranking order: every node on the same offer (one zone, one market)."""
    if nodes < 1:
        raise ValueError("a gang needs at least one node")
    plans = []
    for item in ranked:
        free = (capacity or {}).get(item.offer.pool)
        if free is not None and free < nodes:
            continue
        total = item.offer.price_per_hour * nodes
        plans.append(GangPlan(item.offer, nodes, total,
                              f"{nodes} x {item.offer.instance_type} in {item.offer.zone}, ${total:.4f}/h in all"
                              + (f"; {item.reason}" if item.reason else "")))
    return plans
