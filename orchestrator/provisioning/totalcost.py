"""One call for "rank this job's offers by expected total cost": the launcher, `offers --for` and the dry run.

Gathers what the pure ranking needs (the job's data profile, the transfer rates in force) and calls
`policies.totalcost.place_by_total`. With `transfer.enabled: false`, or nothing to move and no runtime to
weigh, the hourly order stands (the same offers; the breakdown is still shown).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.orm import Session

from orchestrator.jobs.models import JobSpec
from orchestrator.provisioning.datagravity import active_provider, data_profile
from orchestrator.provisioning.deadline import rank_preferring
from orchestrator.provisioning.transfers import transfer_rates
from orchestrator.runtime import Runtime
from orchestrator.store.tables import Job
from policies.blocks import Blocks, Pool
from policies.egress import TransferRates
from policies.placement import OfferIndex, PlacementRequest, Priors, RankedOffer
from policies.totalcost import DataProfile, TotalRanked, place_by_total


def profile_for(s: Session, rt: Runtime, spec: JobSpec, *, job_id: str | None = None,
                deadline_at: datetime | None = None) -> DataProfile:
    hint = active_provider(s, job_id) if job_id else ""
    return data_profile(s, rt.settings, rt.providers, spec, job_id=job_id, deadline_at=deadline_at,
                        provider_hint=hint)


def rank_total(s: Session, rt: Runtime, spec: JobSpec, req: PlacementRequest, index: OfferIndex,
               blocked: Blocks | Collection[Pool] = frozenset(), *, priors: Priors | None, now: float,
               limit: int, job_id: str | None = None, deadline_at: datetime | None = None,
               rates: TransferRates | None = None) -> list[TotalRanked]:
    """The job's best `limit` offers by expected total (see policies/totalcost.py). `rates`: the transfer rates
    in force, when the caller read them once for many jobs (the launcher's pass)."""
    profile = profile_for(s, rt, spec, job_id=job_id, deadline_at=deadline_at)
    return place_by_total(index, req, profile, rates or transfer_rates(s, rt.settings), blocked, priors=priors,
                          now=now, limit=limit)


def as_ranked(rows: list[TotalRanked]) -> list[RankedOffer]:
    """Back to plain ranked offers (what gang planning and failover take), the total-cost reason on the first."""
    return [RankedOffer(r.offer, r.reason, r.ranked.expected_cost) for r in rows]


def rank_job(s: Session, rt: Runtime, job: Job, spec: JobSpec, req: PlacementRequest, index: OfferIndex,
             blocked: Blocks, prefer: str | None, *, priors: Priors, now: float, limit: int,
             rates: TransferRates | None = None) -> list[RankedOffer]:
    """The launcher's ranking of one job: by expected total cost to finish (data moves included), or -- when the
    deadline policy picked a zone (its changeover already counts the transfer time) -- that zone first."""
    if prefer is None and rt.settings.transfer.enabled:
        return as_ranked(rank_total(s, rt, spec, req, index, blocked, priors=priors, now=now, limit=limit,
                                    job_id=job.id, deadline_at=job.deadline_at, rates=rates))
    return rank_preferring(index, req, prefer, blocked, priors=priors, now=now, limit=limit)


def deadline_data(s: Session, rt: Runtime, job: Job, spec: JobSpec,
                  rates: TransferRates | None) -> tuple[DataProfile, TransferRates] | None:
    """What the deadline policy needs to count the data's transfer time in its changeover (None: turned off)."""
    if not rt.settings.transfer.enabled:
        return None
    return (profile_for(s, rt, spec, job_id=job.id, deadline_at=job.deadline_at),
            rates or transfer_rates(s, rt.settings))
