"""Expected cost to FINISH a job on an offer, not its price per hour: data gravity in placement. Pure.

A training job's checkpoint, workdir and data sets sit in a bucket in one cloud and region; the cheapest spot
offer is often elsewhere. Reaching it costs egress (per GB, billed by the bucket's cloud) and transfer time, paid
at the instance's rate while the GPU idles -- on every attempt, since a reclaimed spot instance's replacement
downloads everything again. So offers are ranked by

    total = rate x (remaining runtime + transfer time + start-up) x nodes
          + egress of what must move x nodes
          + for spot: interruptions expected over the run x (egress + transfer time x rate) of one re-transfer

where `rate` is the offer's expected $/h (`policies.placement.expected_cost`: the price raised by its
interruption prior, the daemon's own recent preemptions in the pool, and the carbon price) and the interruption
rate is the same per-hour figure placement uses. An offer in the store's region wins over a cheaper one across
clouds exactly when egress and transfer time outweigh the price difference over the remaining hours.

Remaining runtime: the spec's `estimated_runtime` less the work the latest checkpoint saved; without an estimate,
the time left to the deadline; without either, a one-hour horizon (`DEFAULT_HORIZON_HOURS`), so a job that says
nothing about its length still weighs a one-off transfer against one hour of price difference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from policies.blocks import Blocks, Pool
from policies.egress import MoveKind, TransferRates, move_kind
from policies.placement import OfferIndex, PlacementRequest, Priors, RankedOffer
from providers.base import Offer

__all__ = ["DEFAULT_HORIZON_HOURS", "DataItem", "DataProfile", "TotalCost", "TotalRanked", "interruption_rate",
           "candidates", "place_by_total", "rank_by_total", "total_cost", "transfer_plan"]

DEFAULT_HORIZON_HOURS = 1.0
GB = 1e9


@dataclass(frozen=True, slots=True)
class DataItem:
    """Something a new instance must fetch before the job runs: where it lives and how big it is."""

    what: str  # "checkpoint", "workdir", or the input's URL
    cloud: str  # "aws", "gcp", "azure", "local"
    region: str | None  # None: not known (treated as another region of that cloud)
    bytes: int


@dataclass(frozen=True, slots=True)
class DataProfile:
    """A job's data and the hours it still has to run (with where that figure comes from)."""

    items: tuple[DataItem, ...] = ()
    remaining_hours: float = DEFAULT_HORIZON_HOURS
    horizon: str = "default 1 h horizon (no estimated_runtime or deadline)"
    startup_hours: float = 0.0
    nodes: int = 1

    @property
    def total_bytes(self) -> int:
        return sum(i.bytes for i in self.items)

    def places(self) -> list[tuple[str, str | None]]:
        """The (cloud, region or None when unknown) pairs where data lives, biggest first (placement looks there
        for offers too)."""
        sizes: dict[tuple[str, str | None], int] = {}
        for item in self.items:
            if item.bytes > 0:
                key = (item.cloud, item.region)
                sizes[key] = sizes.get(key, 0) + item.bytes
        return [k for k, _ in sorted(sizes.items(), key=lambda kv: -kv[1])]


@dataclass(frozen=True, slots=True)
class TotalCost:
    """The breakdown of one offer's expected cost to finish (all per job: every node counted)."""

    rate_per_hour: float  # expected $/h of the whole job (nodes x per-node expected cost)
    hours: float  # remaining runtime
    transfer_bytes: int  # what must cross a region or cloud boundary (egress is billed on it)
    egress_usd: float
    transfer_hours: float  # every item's download time, same-region ones included (the GPU idles meanwhile)
    startup_hours: float
    interruptions: float  # expected over the run (spot; 0 on-demand)
    retransfer_usd: float  # expected cost of the re-transfers those interruptions cause
    total_usd: float
    rate_source: str  # "default", "measured", ... for the slowest item

    @property
    def transfer_gb(self) -> float:
        return self.transfer_bytes / GB

    @property
    def transfer_minutes(self) -> float:
        return self.transfer_hours * 60.0

    def as_dict(self) -> dict[str, float | int | str]:
        return {"expected_total_usd": round(self.total_usd, 4), "remaining_hours": round(self.hours, 4),
                "rate_per_hour": round(self.rate_per_hour, 6), "transfer_gb": round(self.transfer_gb, 3),
                "egress_usd": round(self.egress_usd, 4), "transfer_minutes": round(self.transfer_minutes, 2),
                "startup_minutes": round(self.startup_hours * 60.0, 2),
                "expected_interruptions": round(self.interruptions, 4),
                "retransfer_usd": round(self.retransfer_usd, 4), "transfer_rate_source": self.rate_source}


@dataclass(frozen=True, slots=True)
class TotalRanked:
    """A ranked offer with its expected total; `reason` says why the first one won."""

    ranked: RankedOffer
    cost: TotalCost
    reason: str

    @property
    def offer(self) -> Offer:
        return self.ranked.offer


def interruption_rate(offer: Offer, priors: Priors | None) -> float:
    """Interruptions per hour placement expects of the offer (its prior plus our recent preemptions there)."""
    if not offer.spot:
        return 0.0
    rate = offer.interruption_prior or 0.0
    if priors is not None:
        rate += priors.observed.get(offer.pool, 0) * priors.penalty_per_preemption
    return max(0.0, rate)


def transfer_plan(offer: Offer, profile: DataProfile,
                  rates: TransferRates) -> tuple[int, float, float, str]:
    """(bytes crossing a boundary, egress USD, transfer hours, slowest rate's source) for ONE node's download."""
    crossing, egress, hours, source, slowest = 0, 0.0, 0.0, "none", float("inf")
    for item in profile.items:
        if item.bytes <= 0:
            continue
        kind: MoveKind = move_kind(item.cloud, item.region, offer.cloud, offer.region)
        if kind != "same_region":
            crossing += item.bytes
            egress += item.bytes / GB * rates.egress_usd_per_gb(item.cloud, kind)
        mb_s, origin = rates.mb_per_second(item.cloud, item.region, offer.cloud, offer.region, offer.instance_type)
        hours += item.bytes / (mb_s * 1e6) / 3600.0
        if mb_s < slowest:
            slowest, source = mb_s, origin
    return crossing, egress, hours, source


def total_cost(ranked: RankedOffer, profile: DataProfile, rates: TransferRates,
               priors: Priors | None) -> TotalCost:
    """The expected cost of the rest of the job on `ranked.offer` (see the module docstring for the formula)."""
    nodes = max(1, profile.nodes)
    crossing, egress, transfer_h, source = transfer_plan(ranked.offer, profile, rates)
    rate = ranked.expected_cost * nodes
    hours = max(0.0, profile.remaining_hours)
    paid_hours = hours + transfer_h + profile.startup_hours
    interruptions = interruption_rate(ranked.offer, priors) * paid_hours
    retransfer = interruptions * (egress * nodes + transfer_h * rate)
    total = rate * paid_hours + egress * nodes + retransfer
    return TotalCost(rate, hours, crossing * nodes, egress * nodes, transfer_h, profile.startup_hours,
                     interruptions, retransfer, total, source)


def _why(winner: TotalRanked, others: Sequence[TotalRanked]) -> str:
    """Why the first offer won: against the cheapest-per-hour offer when that is another one."""
    o, c = winner.offer, winner.cost
    what = winner.ranked.reason
    if what.startswith("cheapest matching"):  # the hourly ranking's own headline: not why it won here
        what = what.split(": ", 1)[-1].rsplit(" (of ", 1)[0]
    head = (f"lowest expected total ${c.total_usd:.2f} for {c.hours:.3g} h: {what}; "
            f"{c.transfer_gb:.1f} GB to move, ${c.egress_usd:.2f} egress, {c.transfer_minutes:.1f} min transfer")
    cheaper = min((r for r in others if r.offer.price_per_hour < o.price_per_hour),
                  key=lambda r: r.offer.price_per_hour, default=None)
    if cheaper is None:
        return head
    d = cheaper.cost
    return (head + f"; beats the cheaper ${cheaper.offer.price_per_hour:.4f}/h {cheaper.offer.cloud} "
            f"{cheaper.offer.instance_type} in {cheaper.offer.zone} (expected total ${d.total_usd:.2f}: "
            f"${d.egress_usd:.2f} egress, {d.transfer_minutes:.1f} min transfer, "
            f"${d.retransfer_usd:.2f} expected re-transfers)")


def rank_by_total(candidates: Iterable[RankedOffer], profile: DataProfile, rates: TransferRates,
                  priors: Priors | None) -> list[TotalRanked]:
    """The candidates, lowest expected total first (ties: hourly expected cost, price, pool), duplicates of a
    pool dropped; the first one's reason names what it beat."""
    seen: set[tuple[str, str, str, str, bool]] = set()
    rows: list[TotalRanked] = []
    for r in candidates:
        if r.offer.pool in seen:
            continue
        seen.add(r.offer.pool)
        rows.append(TotalRanked(r, total_cost(r, profile, rates, priors), r.reason))
    rows.sort(key=lambda t: (t.cost.total_usd, t.ranked.expected_cost, t.offer.price_per_hour, not t.offer.spot,
                             t.offer.pool))
    if rows:
        rows[0] = TotalRanked(rows[0].ranked, rows[0].cost, _why(rows[0], rows[1:]))
    return rows


def candidates(index: OfferIndex, req: PlacementRequest, profile: DataProfile, blocked: Blocks | Collection[Pool]
               = frozenset(), *, priors: Priors | None = None, now: float = 0.0, limit: int = 10) -> list[RankedOffer]:
    """Offers worth pricing in full: the `limit` cheapest per hour anywhere, and the `limit` cheapest in each
    cloud and each (cloud, region) where the job's data lives (within the request's own filters).

    Why not the whole catalog: an offer far from the data is never cheaper in total than a cheaper-per-hour one
    equally far, and the index stops early by price; an offer beside the data can win while dearer per hour, so
    the data's own region and cloud are asked for by name."""
    found = list(index.rank(req, blocked, priors=priors, now=now, limit=limit))
    allowed_clouds = {c.lower() for c in req.clouds}
    allowed_regions = {r.lower() for r in req.regions}
    asked: set[tuple[str, ...]] = set()
    for cloud, region in profile.places():
        if allowed_clouds and cloud.lower() not in allowed_clouds:
            continue
        narrowed: list[PlacementRequest] = []
        if (cloud,) not in asked:
            asked.add((cloud,))
            narrowed.append(dataclasses.replace(req, clouds=(cloud,)))
        if region is not None and (not allowed_regions or region.lower() in allowed_regions) \
                and (cloud, region) not in asked:
            asked.add((cloud, region))
            narrowed.append(dataclasses.replace(req, clouds=(cloud,), regions=(region,)))
        for sub in narrowed:
            found.extend(index.rank(sub, blocked, priors=priors, now=now, limit=limit))
    return found


def place_by_total(index: OfferIndex, req: PlacementRequest, profile: DataProfile, rates: TransferRates,
                   blocked: Blocks | Collection[Pool] = frozenset(), *, priors: Priors | None = None,
                   now: float = 0.0, limit: int = 10) -> list[TotalRanked]:
    """The best `limit` offers for `req` by expected total (what the launcher, the offers view and the dry run
    call). With no data to move the order is the hourly one, plus the same start-up for every offer."""
    if not any(item.bytes > 0 for item in profile.items):  # nothing moves: the hourly order, reasons as they were
        return [TotalRanked(r, total_cost(r, profile, rates, priors), r.reason)
                for r in index.rank(req, blocked, priors=priors, now=now, limit=limit)]
    found = candidates(index, req, profile, blocked, priors=priors, now=now, limit=limit)
    return rank_by_total(found, profile, rates, priors)[:limit]
