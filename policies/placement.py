"""Placement: which offers satisfy a job, cheapest expected cost first, with the reason attached. Pure.

The daemon, the offers view, the benchmark and the simulator all call `rank_offers` (a linear
scan) or `OfferIndex.rank` (the same answer from a price-sorted index, for thousands of jobs
over a 100k-offer catalog). Adapters never decide placement; blocks and priors come in as data
(`policies.blocks`, `Priors`), and time is a parameter, so the same inputs give the same answer.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

from policies.blocks import Blocks, Pool
from policies.energy import offer_kg_per_hour
from providers.base import Offer
from providers.gpus import canonical_gpu  # the one GPU vocabulary (pure data)

__all__ = ["OfferIndex", "PlacementRequest", "Pool", "Priors", "RankedOffer", "canonical_gpu",
           "expected_cost", "gpu_text", "rank_offers", "rejection"]

@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """What one node of a job needs, in plain data. `num_nodes` > 1 asks for a gang in one zone."""

    gpu_model: str | None = None
    gpu_count: int = 0
    spot: bool | Literal["auto"] = "auto"  # "auto" = either market, cheapest expected cost wins
    clouds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    instance_type: str | None = None
    min_vcpus: float | None = None
    min_memory_gb: float | None = None
    min_gpu_memory_gb: float | None = None  # per GPU
    max_price_per_hour: float | None = None  # per node
    num_nodes: int = 1
    carbon_price: float = 0.0  # USD per kg CO2e added to the expected cost (0: carbon does not count)
    # "Any of these": other (GPU model, count per node) options besides gpu_model/gpu_count. Offers of every option
    # are ranked together (price per node, so per job: every option has the same node count); "listed" ranks
    # option by option in the order given instead (the first option's offers first, the next as failover).
    gpu_candidates: tuple[tuple[str, int], ...] = ()
    gpu_order: Literal["price", "listed"] = "price"

    def gpu_options(self) -> tuple[tuple[str, int], ...]:
        """Every (model, count) this request accepts, gpu_model first; () when it names no GPU."""
        if self.gpu_model is None:
            return ()
        return _options(self.gpu_model, self.gpu_count, self.gpu_candidates)


@lru_cache(maxsize=4096)
def _options(model: str, count: int, more: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """Canonical, de-duplicated options (cached: `rejection` asks once per offer considered)."""
    out: list[tuple[str, int]] = []
    for name, n in ((model, count), *more):
        option = (canonical_gpu(name), n)
        if option not in out:
            out.append(option)
    return tuple(out)


def gpu_text(req: PlacementRequest) -> str:
    """'A100:8' or 'A100:8 or H100:8' (messages)."""
    return " or ".join(f"{m}:{n}" for m, n in req.gpu_options())


@dataclass(frozen=True, slots=True)
class Priors:
    """What we believe about interruptions, to turn a price into an expected cost.

    `observed` counts preemptions we saw per pool recently (the daemon supplies the window);
    each one adds `penalty_per_preemption` interruptions/hour on top of the offer's own prior
    (placement score, advisor bucket). An interruption costs `lost_hours` of paid, wasted time
    (changeover plus work since the last checkpoint), so expected $/h = price * (1 + rate * lost).
    """

    lost_hours: float = 0.5
    penalty_per_preemption: float = 0.5
    observed: Mapping[Pool, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RankedOffer:
    offer: Offer
    reason: str
    expected_cost: float = 0.0


def _norm(values: Iterable[str]) -> frozenset[str]:
    """Lower-cased, as a set. Requests carry tuples: those are cached, since `rejection` asks once per offer
    considered (building a set per offer was a third of ranking 10,000 jobs)."""
    try:
        return _norm_tuple(values)  # type: ignore[arg-type]
    except TypeError:  # a list or another unhashable iterable
        return frozenset(v.lower() for v in values)


@lru_cache(maxsize=4096)
def _norm_tuple(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)


def rejection(req: PlacementRequest, offer: Offer) -> str | None:
    """Why `offer` cannot serve `req`, or None when it can."""
    if req.gpu_model is not None and req.gpu_candidates:
        options = req.gpu_options()
        model = canonical_gpu(offer.gpu_model)
        if (model, offer.gpu_count) not in options:
            if all(model != m for m, _ in options):
                return f"GPU {offer.gpu_model or 'none'} is not {' or '.join(m for m, _ in options)}"
            return f"has {offer.gpu_count} {model} GPUs, job needs {gpu_text(req)}"
    elif req.gpu_model is not None:
        if canonical_gpu(offer.gpu_model) != canonical_gpu(req.gpu_model):
            return f"GPU {offer.gpu_model or 'none'} is not {req.gpu_model}"
        if offer.gpu_count != req.gpu_count:
            return f"has {offer.gpu_count} GPUs, job needs {req.gpu_count}"
    if req.spot is True and not offer.spot:
        return "on-demand, job asks for spot"
    if req.spot is False and offer.spot:
        return "spot, job asks for on-demand"
    if req.clouds and offer.cloud.lower() not in _norm(req.clouds):
        return f"cloud {offer.cloud} not allowed"
    if req.regions and offer.region.lower() not in _norm(req.regions):
        return f"region {offer.region} not allowed"
    if req.zones and offer.zone.lower() not in _norm(req.zones):
        return f"zone {offer.zone} not allowed"
    if req.instance_type and offer.instance_type != req.instance_type:
        return f"type {offer.instance_type} is not {req.instance_type}"
    if req.min_vcpus is not None and offer.vcpus < req.min_vcpus:
        return f"{offer.vcpus:g} vCPUs < {req.min_vcpus:g}"
    if req.min_memory_gb is not None and offer.memory_gb < req.min_memory_gb:
        return f"{offer.memory_gb:g} GB memory < {req.min_memory_gb:g}"
    if req.min_gpu_memory_gb is not None and offer.gpu_memory_gb < req.min_gpu_memory_gb:
        return f"{offer.gpu_memory_gb:g} GB per GPU < {req.min_gpu_memory_gb:g}"
    if req.max_price_per_hour is not None and offer.price_per_hour > req.max_price_per_hour:
        return f"${offer.price_per_hour:.4f}/h over the cap ${req.max_price_per_hour:.4f}/h"
    return None


def expected_cost(offer: Offer, priors: Priors | None) -> tuple[float, str]:
    """Expected $/h of one node (>= the price) and a note on what raised it."""
    if priors is None or not offer.spot:
        return offer.price_per_hour, ""
    rate = offer.interruption_prior or 0.0
    seen = priors.observed.get(offer.pool, 0)
    rate += seen * priors.penalty_per_preemption
    if rate <= 0:
        return offer.price_per_hour, ""
    note = f", {rate:.2f} interruptions/h expected" + (f" ({seen} recent preemptions)" if seen else "")
    return offer.price_per_hour * (1.0 + rate * priors.lost_hours), note


def _as_blocks(blocked: Blocks | Collection[Pool]) -> Blocks:
    return blocked if isinstance(blocked, Blocks) else Blocks.of_pools(blocked)


def _finish(ranked: list[RankedOffer], req: PlacementRequest, considered: int) -> list[RankedOffer]:
    ranked.sort(key=lambda r: (r.expected_cost, r.offer.price_per_hour, not r.offer.spot, r.offer.pool))
    if ranked:
        first = ranked[0]
        nodes = f" for {req.num_nodes} nodes in one zone" if req.num_nodes > 1 else ""
        ranked[0] = RankedOffer(first.offer, f"cheapest matching{nodes}: {first.reason} "
                                             f"(of {considered} candidates)", first.expected_cost)
    return ranked


def _ranked(offer: Offer, priors: Priors | None, carbon_price: float = 0.0) -> RankedOffer:
    cost, note = expected_cost(offer, priors)
    if carbon_price > 0:  # >= 0 added keeps expected cost >= price, which OfferIndex's early stop relies on
        kg = offer_kg_per_hour(offer.cloud, offer.region, offer.gpu_model, offer.gpu_count, offer.vcpus,
                               offer.memory_gb)
        cost += carbon_price * kg
        note += f", {kg:.3f} kgCO2e/h at ${carbon_price:g}/kg"
    market = "spot" if offer.spot else "on-demand"
    reason = f"{offer.cloud} {market} {offer.instance_type} ${offer.price_per_hour:.4f}/h in {offer.zone}{note}"
    if offer.source != "live":
        reason += f" ({offer.source} price)"
    return RankedOffer(offer, reason, cost)


def rank_offers(
    req: PlacementRequest, offers: Iterable[Offer], blocked: Blocks | Collection[Pool] = frozenset(),
    *, priors: Priors | None = None, now: float = 0.0,
) -> list[RankedOffer]:
    """Every satisfying, unblocked offer, lowest expected cost first (ties: price, spot, pool name).

    `blocked` is a `Blocks` (with TTLs, checked at `now`) or a plain collection of pools.
    """
    if _listed(req):
        offers = list(offers)
        return _concat([rank_offers(one, offers, blocked, priors=priors, now=now) for one in _one_by_one(req)],
                       req, None)
    blocks = _as_blocks(blocked)
    ranked = [_ranked(o, priors, req.carbon_price) for o in offers
              if rejection(req, o) is None and not blocks.blocks(o, now)]
    return _finish(ranked, req, len(ranked))


def _listed(req: PlacementRequest) -> bool:
    return req.gpu_order == "listed" and req.gpu_model is not None and len(req.gpu_options()) > 1


def _one_by_one(req: PlacementRequest) -> list[PlacementRequest]:
    """A "listed" request as one request per option, in the order given."""
    return [replace(req, gpu_model=m, gpu_count=n, gpu_candidates=(), gpu_order="price")
            for m, n in req.gpu_options()]


def _concat(parts: list[list[RankedOffer]], req: PlacementRequest, limit: int | None) -> list[RankedOffer]:
    """Each option's ranking after the previous one's (the first option's best offer says so in its reason)."""
    out = [r for part in parts for r in part][:limit]
    if out:
        first = out[0]
        out[0] = RankedOffer(first.offer, f"{first.reason}; options tried in the order listed: {gpu_text(req)}",
                             first.expected_cost)
    return out


BucketKey = tuple[str, int, bool]  # (canonical GPU model, GPU count, spot)
Group = tuple[str, float, float, list[Offer]]  # (cloud or "" for all, vCPUs, memory GB, offers by price)


def _cheapest(group: Group) -> float:
    return group[3][0].price_per_hour


class OfferIndex:
    """Offers grouped by (GPU model, GPU count, market) and then by machine shape, sorted by price.

    Each group holds one shape (vCPUs, memory), either across all clouds (for jobs that pin no
    cloud or region) or within one cloud. Ranking drops whole groups a request cannot use, then
    visits the rest cheapest-first and stops when the next group's cheapest price cannot beat
    the `limit`-th best expected cost found (expected cost >= price): a typical job looks at a
    handful of offers instead of the whole catalog. Same answer as `rank_offers` for its first
    `limit` entries.
    """

    def __init__(self, offers: Iterable[Offer]) -> None:
        grouped: dict[BucketKey, dict[tuple[str, float, float], list[Offer]]] = {}
        self.size = 0
        for offer in offers:
            key = (canonical_gpu(offer.gpu_model), offer.gpu_count, offer.spot)
            shape = (offer.cloud.lower(), offer.vcpus, offer.memory_gb)
            grouped.setdefault(key, {}).setdefault(shape, []).append(offer)
            self.size += 1
        self.by_cloud: dict[BucketKey, list[Group]] = {}
        self.by_shape: dict[BucketKey, list[Group]] = {}
        for key, groups in grouped.items():
            shapes: dict[tuple[float, float], list[Offer]] = {}
            for (cloud, vcpus, memory), group in groups.items():
                group.sort(key=lambda o: o.price_per_hour)
                self.by_cloud.setdefault(key, []).append((cloud, vcpus, memory, group))
                shapes.setdefault((vcpus, memory), []).extend(group)
            for (vcpus, memory), group in shapes.items():
                group.sort(key=lambda o: o.price_per_hour)
                self.by_shape.setdefault(key, []).append(("", vcpus, memory, group))
        # Every list of groups in order of its cheapest offer, once here rather than per request (sorting the
        # groups of every GPU model for each request without one was a fifth of ranking 10,000 jobs); and per
        # market, the groups of all GPU models together, for requests that name none.
        self.any_cloud: dict[bool, list[Group]] = {}
        self.any_shape: dict[bool, list[Group]] = {}
        for table, merged in ((self.by_cloud, self.any_cloud), (self.by_shape, self.any_shape)):
            for key, listed in table.items():
                listed.sort(key=_cheapest)
                merged.setdefault(key[2], []).extend(listed)
            for listed in merged.values():
                listed.sort(key=_cheapest)

    def _groups(self, req: PlacementRequest) -> Iterator[list[Offer]]:
        """The groups `req` can use, in order of their cheapest offer; lazily, as `rank` usually stops early."""
        markets = (True, False) if req.spot == "auto" else (bool(req.spot),)
        clouds = _norm(req.clouds)
        if req.gpu_model is not None:
            source = self.by_cloud if clouds else self.by_shape
            lists = [source.get((gpu, count, m), []) for gpu, count in req.gpu_options() for m in markets]
        else:
            every_model = self.any_cloud if clouds else self.any_shape
            lists = [every_model.get(m, []) for m in markets]
        min_vcpus, min_memory = req.min_vcpus or 0.0, req.min_memory_gb or 0.0
        found = [(g for g in listed if (not clouds or g[0] in clouds) and g[1] >= min_vcpus and g[2] >= min_memory)
                 for listed in lists]
        ordered = found[0] if len(found) == 1 else heapq.merge(*found, key=_cheapest)
        return (g[3] for g in ordered)

    def rank(self, req: PlacementRequest, blocked: Blocks | Collection[Pool] = frozenset(), *,
             priors: Priors | None = None, now: float = 0.0, limit: int = 10) -> list[RankedOffer]:
        """The best `limit` satisfying, unblocked offers for `req`, as `rank_offers` orders them."""
        if _listed(req):
            return _concat([self.rank(one, blocked, priors=priors, now=now, limit=limit) for one in _one_by_one(req)],
                           req, limit)
        blocks = _as_blocks(blocked)
        found: list[RankedOffer] = []
        worst: list[float] = []  # max-heap (negated) of the `limit` best expected costs so far
        cap = float("inf") if req.max_price_per_hour is None else req.max_price_per_hour
        for group in self._groups(req):
            bound = min(cap, -worst[0]) if len(worst) >= limit else cap
            if group[0].price_per_hour > bound:
                break  # groups are in order of their cheapest offer: nothing later can enter
            for offer in group:
                if offer.price_per_hour > bound:
                    break
                if rejection(req, offer) is not None or blocks.blocks(offer, now):
                    continue
                item = _ranked(offer, priors, req.carbon_price)
                found.append(item)
                heapq.heappush(worst, -item.expected_cost)
                if len(worst) > limit:
                    heapq.heappop(worst)
                if len(worst) >= limit:
                    bound = min(cap, -worst[0])
        return _finish(found, req, len(found))[:limit]
