"""Could any configured provider ever run this job, and if not, what exists instead? Pure: offers come in as an index.

Why: a job asking for something no offer has (a misspelt GPU, `A100:1` where only `A100:8` is sold, a cloud the daemon
is not configured for) used to be accepted and then wait in WAITING_CAPACITY forever under a reason that blamed
blocked pools. The same words serve three places: the 422 at submit, the dry run, and the waiting reason of a job
stored before this check existed. "Ever" means among the offers the daemon knows, ignoring blocks and capacity (those
pass); a job refused here could not be placed by the launcher until a new provider or catalog is added.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from policies.blocks import Blocks
from policies.placement import OfferIndex, PlacementRequest, RankedOffer, gpu_text, rejection
from providers.base import Offer
from providers.gpus import canonical_gpu, is_known_gpu, known_gpu_names, suggest_gpus

NO_OFFERS_NOTE = ("accepted without a placement check: the daemon knows no offers yet (first start or prices still "
                  "loading); 'spotwise offers' shows them once loaded")
SHOWN = 3  # alternatives named in a message
PER_SHAPE = 50  # offers of one machine shape looked at for a message (they are sorted by price)
NOT_SUGGESTED = frozenset({"faulty", "local"})  # test and demo providers: never "configure this to get GPUs"


@dataclass(frozen=True, slots=True)
class Assessment:
    """`problem`: why no configured provider could ever run the job (refuse it); `note`: a caveat for an accepted job;
    `ranked`: where it would go now (the best few offers, blocks ignored)."""

    problem: str | None = None
    note: str = ""
    ranked: list[RankedOffer] = field(default_factory=list)
    totals: list[Any] = field(default_factory=list)  # policies.totalcost.TotalCost per ranked offer (dry run)
    winner_reason: str = ""  # why the first offer won on expected total (dry run)
    horizon: str = ""  # where the remaining runtime of the totals comes from


@cache
def unconfigured_providers(configured: frozenset[str]) -> tuple[str, ...]:
    """Installed cloud providers the daemon is not configured for (entry points are read once: plugins change only
    with a restart)."""
    from providers.registry import available_names

    return tuple(sorted(set(available_names()) - configured - NOT_SUGGESTED))


def gpu_name_problem(model: str, offered: Collection[str] = ()) -> str | None:
    """Why `model` names no GPU (None: it does). Known: the shared table, TPU slices, or a model an offer carries
    (a plugin's own hardware)."""
    if is_known_gpu(model) or canonical_gpu(model) in offered:
        return None
    close = suggest_gpus(model, extra=sorted(m for m in offered if m))
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return (f"resources.accelerators: unknown GPU model {model!r}; {hint}known models: "
            f"{', '.join(sorted({*known_gpu_names(), *(m for m in offered if m)}))}")


def offered_models(index: OfferIndex) -> frozenset[str]:
    """Canonical GPU models the indexed offers carry ("" for CPU-only machines)."""
    return frozenset(key[0] for key in index.by_shape)


def assess(req: PlacementRequest, index: OfferIndex, unconfigured: Collection[str] = (),
           limit: int = SHOWN) -> Assessment:
    """Feasible (with the best `limit` offers now), infeasible (with what exists instead), or unknown (no offers)."""
    if index.size == 0:
        return Assessment(note=NO_OFFERS_NOTE)
    ranked = index.rank(req, limit=limit)
    if ranked:
        return Assessment(ranked=ranked)
    return Assessment(problem=infeasible_message(req, index, unconfigured))


def _market(spot: object) -> str:
    return " spot" if spot is True else " on-demand" if spot is False else ""


def _wanted(req: PlacementRequest) -> str:
    what = gpu_text(req) if req.gpu_model else "a machine"
    limits = [f"in clouds {', '.join(req.clouds)}" if req.clouds else "",
              f"in regions {', '.join(req.regions)}" if req.regions else "",
              f"in zones {', '.join(req.zones)}" if req.zones else "",
              f"of type {req.instance_type}" if req.instance_type else "",
              f"with {req.min_vcpus:g}+ vCPUs" if req.min_vcpus is not None else "",
              f"with {req.min_memory_gb:g}+ GB memory" if req.min_memory_gb is not None else "",
              f"at or under ${req.max_price_per_hour:g}/h" if req.max_price_per_hour is not None else "",
              f"per node ({req.num_nodes} nodes)" if req.num_nodes > 1 and req.max_price_per_hour is not None else ""]
    return what + _market(req.spot) + "".join(f" {part}" for part in limits if part)


def _candidates(req: PlacementRequest, index: OfferIndex) -> list[Offer]:
    """Offers of the requested GPU model (any count, market, place, price), cheapest first. The cheapest few of each
    machine shape are enough to name the alternatives, and keep a CPU-only job over a 60k-offer catalog cheap."""
    gpus = {m for m, _ in req.gpu_options()}
    found = [o for key, groups in index.by_shape.items() if not gpus or key[0] in gpus
             for _cloud, _vcpus, _memory, group in groups for o in group[:PER_SHAPE]]
    found.sort(key=lambda o: o.price_per_hour)
    return found


def _gpus(o: Offer) -> str:
    return f"{o.gpu_model}:{o.gpu_count}" if o.gpu_model else f"{o.instance_type} (no GPU)"


def _price(o: Offer) -> str:
    return f"${o.price_per_hour:.4g}/h {'spot' if o.spot else 'on-demand'} in {o.zone}"


def _offer_text(o: Offer) -> str:
    return f"{o.cloud} offers {_gpus(o)} ({_price(o)})"


def _alternatives(offers: Iterable[Offer]) -> list[str]:
    """The cheapest offer of each distinct (cloud, GPU count, market), as "local offers A100:8 ($11.57/h spot ...)"."""
    seen: set[tuple[str, int, bool]] = set()
    out: list[str] = []
    for o in offers:
        key = (o.cloud, o.gpu_count, o.spot)
        if key not in seen:
            seen.add(key)
            out.append(_offer_text(o))
        if len(out) >= SHOWN:
            break
    return out


def infeasible_message(req: PlacementRequest, index: OfferIndex, unconfigured: Collection[str] = ()) -> str:
    """'no configured provider offers A100:1 spot; local offers A100:8 ($11.57/h spot in local-west-a); aws, gcp are
    not configured ('spotwise providers list')'."""
    parts = [f"no configured provider offers {_wanted(req)}"]
    candidates = _candidates(req, index)
    if not candidates and req.gpu_model:
        models = sorted(m for m in offered_models(index) if m)
        unknown = ""
        misspelt = [m for m, _ in req.gpu_options() if not is_known_gpu(m)]
        if misspelt:  # a stored job with a misspelt model: say what was meant
            close = " or ".join(suggest_gpus(misspelt[0], extra=models))
            which = f"{misspelt[0]} is " if req.gpu_candidates else ""
            unknown = f" ({which}not a GPU model Spotwise knows{f'; did you mean {close}?' if close else ''})"
        wanted = " or ".join(dict.fromkeys(m for m, _ in req.gpu_options()))
        parts.append(f"no offer has {wanted} GPUs{unknown}; GPUs offered: {', '.join(models) or 'none'}")
    options = set(req.gpu_options())
    same_shape = [o for o in candidates if not req.gpu_model or (canonical_gpu(o.gpu_model), o.gpu_count) in options]
    if same_shape:  # the right GPUs exist: say which other limit rules the cheapest out
        closest = same_shape[0]
        why = rejection(req, closest)
        if why:
            parts.append(f"the cheapest {_gpus(closest)}, {closest.cloud} {closest.instance_type} at "
                         f"{_price(closest)}, is ruled out: {why}")
    elif candidates:
        parts.extend(_alternatives(candidates))
    if unconfigured:
        names = sorted(unconfigured)
        parts.append(f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} not configured "
                     "('spotwise providers list')")
    return "; ".join(parts)


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M UTC")


def waiting_reason(req: PlacementRequest, index: OfferIndex, blocks: Blocks, now: float,
                   unconfigured: Collection[str] = ()) -> str:
    """Why a job the launcher could not place waits: nothing matches at all, or every match is blocked, until when."""
    if index.size == 0:
        return "no offers known yet (prices still loading); placing again when they arrive"
    matching = index.rank(req, limit=20)
    if not matching:
        return "no offer matches: " + infeasible_message(req, index, unconfigured)
    held = [(r.offer, block) for r in matching if (block := blocks.why(r.offer.pool, now)) is not None]
    if not held:
        return "capacity: every matching offer was tried in this pass; placing again after the backoff"
    pools = sorted({f"{o.cloud} {o.zone} {o.instance_type}{' spot' if o.spot else ''}" for o, _ in held})
    until = max(block.until for _, block in held)
    why = next((block.reason for _, block in held if block.reason), "launch failures")
    shown = ", ".join(pools[:SHOWN]) + (f" and {len(pools) - SHOWN} more" if len(pools) > SHOWN else "")
    return f"capacity: pools {shown} blocked until {_clock(until)} after {why}"
