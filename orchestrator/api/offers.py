"""/v1/offers (the cheapest matching offers across clouds) and /v1/catalog (price sources, import).

The offers view ranks with the same policy the launcher uses, over every cached offer (live and
imported, enabled provider or not: an operator compares clouds before enabling one).
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from orchestrator.api.deps import AdminDep, RuntimeDep, UserDep
from orchestrator.api.errors import ApiError
from orchestrator.catalog.pricing import OfferCache, source_view, store_offers, wake_waiting_jobs
from orchestrator.catalog.vmscsv import (
    SHOWN_PROBLEMS,
    CatalogFormatError,
    catalog_clouds,
    describe_problems,
    read_vms_csv,
)
from orchestrator.catalog.zones import name_zones
from orchestrator.jobs.models import Accelerators
from orchestrator.provisioning.feasibility import gpu_name_problem, offered_models
from orchestrator.provisioning.placement_request import filter_request
from orchestrator.store.db import transaction
from orchestrator.store.tables import PriceSource
from orchestrator.store.types import utcnow
from policies.energy import carbon_facts, offer_kg_per_hour
from policies.placement import RankedOffer
from policies.totalcost import TotalCost
from providers.base import Offer
from providers.gpus import is_known_gpu

router = APIRouter(tags=["offers"])

MAX_CATALOG_BYTES = 64 * 1024 * 1024  # decompressed; the request itself stays under max_request_bytes


def _cache(request: Request) -> OfferCache:
    cache = getattr(request.app.state, "offer_cache", None)
    if cache is None:
        cache = request.app.state.offer_cache = OfferCache()
    return cache  # type: ignore[no-any-return]


def offer_view(item: RankedOffer, now_ts: float, total: TotalCost | None = None) -> dict[str, Any]:
    """One offer as the API shows it; with `total`, its expected cost to finish the job (`total` key)."""
    o = item.offer
    extra = {"total": total.as_dict()} if total is not None else {}
    return {
        "cloud": o.cloud, "region": o.region, "zone": o.zone, "instance_type": o.instance_type,
        "gpu_model": o.gpu_model, "gpu_count": o.gpu_count, "gpu_memory_gb": o.gpu_memory_gb, "vcpus": o.vcpus,
        "memory_gb": o.memory_gb, "spot": o.spot, "price_per_hour": o.price_per_hour,
        "spot_price": o.price_per_hour if o.spot else None,
        "on_demand_price": o.on_demand_price if o.spot else o.price_per_hour,
        "expected_cost": round(item.expected_cost, 6), "interruption_prior": o.interruption_prior,
        "source": o.source, "price_age_seconds": round(now_ts - o.price_fetched_at.timestamp(), 1),
        "reason": item.reason, **offer_carbon(o), **extra,
    }


def offer_carbon(o: Offer) -> dict[str, Any]:
    """Carbon: the grid intensity of the offer's region and its kg CO2e per hour at full GPU load."""
    intensity = carbon_facts().intensity(o.cloud, o.region)
    return {"grid_g_co2e_per_kwh": intensity.g_per_kwh, "grid_known": intensity.known,
            "carbon_kg_per_hour": round(offer_kg_per_hour(o.cloud, o.region, o.gpu_model, o.gpu_count, o.vcpus,
                                                          o.memory_gb), 6)}


@router.get("/v1/offers")
def list_offers(
    request: Request, rt: RuntimeDep, _user: UserDep,
    gpu: list[str] = Query(default_factory=list, description="MODEL[:COUNT], e.g. A100:8; repeat it for offers "
                           "of any of several GPU types, ranked together"),
    cloud: list[str] = Query(default_factory=list), region: list[str] = Query(default_factory=list),
    zone: list[str] = Query(default_factory=list), market: Literal["spot", "on-demand", "any"] = "any",
    max_price: float | None = Query(None, gt=0), min_vcpus: float | None = None,
    min_memory_gb: float | None = None, min_gpu_memory_gb: float | None = None,
    instance_type: str | None = None, limit: int = Query(20, ge=1, le=1000),
    carbon_price: float = Query(0.0, ge=0, le=1000, description="USD per kg CO2e added when ranking"),
    for_job: str | None = Query(None, max_length=64, description="rank for this job by expected total cost: its "
                                "resources, data (checkpoint, workdir, inputs) and remaining runtime"),
) -> dict[str, Any]:
    """The cheapest offers matching the filters, cheapest first; with `for_job`, the job's offers by expected
    cost to finish (egress, transfer time and interruption risk included) with the breakdown of each."""
    if for_job is not None:
        given = [name for name, value in (("gpu", gpu), ("cloud", cloud), ("region", region), ("zone", zone),
                                          ("instance_type", instance_type), ("max_price", max_price),
                                          ("min_vcpus", min_vcpus), ("min_memory_gb", min_memory_gb),
                                          ("min_gpu_memory_gb", min_gpu_memory_gb)) if value]
        if given or market != "any":
            raise ApiError(422, "invalid_filters", f"for_job ranks with the job's own resources; drop "
                           f"{', '.join(given or ['market'])}")
        return _offers_for_job(request, rt, _user, for_job, limit)
    try:
        wanted = [Accelerators.parse(g) for g in gpu if g]
    except ValueError as exc:
        raise ApiError(422, "invalid_gpu", str(exc)) from None
    req = filter_request(wanted, market=market, clouds=cloud, regions=region, zones=zone, instance_type=instance_type,
                         min_vcpus=min_vcpus, min_memory_gb=min_memory_gb, min_gpu_memory_gb=min_gpu_memory_gb,
                         max_price=max_price, carbon_price=carbon_price)
    index = _cache(request).get(rt.sessions)
    for each in wanted:  # a misspelt model: name the one meant, not "no offer"
        problem = None if is_known_gpu(each.model) else gpu_name_problem(each.model, offered_models(index))
        if problem is not None:
            raise ApiError(422, "invalid_gpu", problem.removeprefix("resources.accelerators: "))
    ranked = index.rank(req, limit=limit)
    now_ts = utcnow().timestamp()
    return {"items": [offer_view(r, now_ts) for r in ranked], "offers_cached": index.size}


@router.get("/v1/catalog")
def catalog_status(rt: RuntimeDep, _user: UserDep) -> dict[str, Any]:
    """Each price source: offers, age, stale or not, failures in a row, last error."""
    now = utcnow()
    with transaction(rt.sessions) as s:
        rows = list(s.scalars(select(PriceSource).order_by(PriceSource.cloud, PriceSource.source)))
        return {"items": [source_view(r, rt.settings, now) for r in rows]}


@router.post("/v1/catalog/import")
async def import_catalog(
    request: Request, rt: RuntimeDep, _admin: AdminDep, cloud: str = Query(..., min_length=2, max_length=32),
    name: str = Query("", max_length=200),
) -> dict[str, Any]:
    """Load a SkyPilot vms.csv (plain or gzip body) as the cloud's catalog prices."""
    cloud = cloud.strip().lower()  # 'GCP' is gcp, as providers and offers name it
    clouds = catalog_clouds()
    if cloud not in clouds:
        raise ApiError(422, "unknown_cloud", f"unknown cloud {cloud!r}; catalogs can be imported for: "
                       f"{', '.join(clouds)}", list(clouds))
    body = await request.body()
    if body[:2] == b"\x1f\x8b":
        try:
            reader = zlib.decompressobj(wbits=31)
            body = reader.decompress(body, MAX_CATALOG_BYTES)
            if reader.unconsumed_tail:
                raise ApiError(413, "too_large", f"catalog over {MAX_CATALOG_BYTES} bytes uncompressed")
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise ApiError(422, "invalid_catalog", f"not a gzip file: {exc}") from None
    try:
        offers, skipped = read_vms_csv(body.decode("utf-8-sig"), cloud)
    except UnicodeDecodeError:
        raise ApiError(422, "invalid_catalog", "the catalog must be UTF-8 CSV text (or gzip of it)") from None
    except CatalogFormatError as exc:
        raise ApiError(422, "invalid_catalog", str(exc)) from None
    if not offers:  # say which rows failed and why: "no offers" alone leaves the operator guessing
        why = f": {describe_problems(skipped)}" if skipped else " (the file has a header but no rows)"
        raise ApiError(422, "invalid_catalog", f"no offers found in {name or 'the file'} for cloud {cloud}{why}",
                       [f"line {line}: {reason}" for line, reason in skipped[:SHOWN_PROBLEMS]])
    cache = _cache(request)

    def store() -> int:  # the index is ready when the import answers: the next `offers` is as fast as any
        nonlocal offers  # AWS rows name zones by ID: the account's names make them the live rows' pools
        offers = name_zones(offers, rt.providers.get(cloud))[0]
        with transaction(rt.sessions) as s:
            stored = store_offers(s, cloud, "catalog", offers, detail=name)
            wake_waiting_jobs(s)
            make_current = cache.after_store(s, cloud, "catalog", offers)
        make_current()
        return stored

    stored = await run_in_threadpool(store)  # seconds of database work: off the event loop
    return {"cloud": cloud, "source": "catalog", "offers": stored, "name": name, "skipped_rows": len(skipped)}


def _offers_for_job(request: Request, rt: Any, user: Any, job_id: str, limit: int) -> dict[str, Any]:
    """`/v1/offers?for_job=ID`: what the launcher would weigh for the job now (blocks and priors included)."""
    import time

    from orchestrator.jobs.models import JobSpec
    from orchestrator.jobs.queue import get_job
    from orchestrator.provisioning.launcher import request_now
    from orchestrator.provisioning.placement_state import load_blocks, recent_preemptions
    from orchestrator.provisioning.totalcost import profile_for
    from orchestrator.provisioning.transfers import rates_view, transfer_rates
    from orchestrator.spending.policy_store import current_policy
    from policies.placement import Priors
    from policies.totalcost import place_by_total

    settings = rt.settings
    index = _cache(request).get(rt.sessions)
    with transaction(rt.sessions) as s:
        job = get_job(s, job_id, team=None if user.is_admin else user.team)
        if job is None:
            raise ApiError(404, "not_found", f"job {job_id} not found")
        spec = JobSpec.model_validate(job.spec)
        req = request_now(s, job, spec, settings, current_policy(s))  # market and policy cap as the launcher
        blocks = load_blocks(s)
        priors = Priors(lost_hours=settings.interruption_lost_hours,
                        observed=recent_preemptions(s, settings.preemption_window_seconds))
        profile = profile_for(s, rt, spec, job_id=job.id, deadline_at=job.deadline_at)
        rates = transfer_rates(s, settings)
        learned = rates_view(s, settings)
    rows = place_by_total(index, req, profile, rates, blocks, priors=priors, now=time.time(), limit=limit)
    now_ts = utcnow().timestamp()
    return {"items": [offer_view(r.ranked, now_ts, r.cost) for r in rows], "offers_cached": index.size,
            "job": job_id, "winner_reason": rows[0].reason if rows else None,
            "horizon": profile.horizon, "remaining_hours": round(profile.remaining_hours, 4),
            "data": [{"what": i.what, "cloud": i.cloud, "region": i.region, "bytes": i.bytes} for i in profile.items],
            "learned_rates": learned}
