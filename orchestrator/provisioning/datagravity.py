"""Where a job's data lives and how big it is: the daemon's side of ranking offers by expected total cost.

`policies/totalcost.py` prices a move; this module finds what must move (I/O allowed here):
- the checkpoint store: its cloud from the URL scheme (each cloud plugin declares its `bucket_schemes`), its
  region from the settings' `transfer.bucket_regions`, else the table `store_regions`, else the cloud's storage
  API once (the plugin's `bucket_region` locator: S3 `GetBucketLocation` through the AWS provider; a cloud
  without one -- GCS, Azure Blob -- takes its regions from the settings, and an unknown region is priced as
  another region of that cloud, the conservative guess; a cloud whose `bucket_region` is a fixed region, as the
  local disk, is always there);
- the latest checkpoint's size: what the agent reported for the latest uploaded version (the manifest's total);
- the workdir archive, when it was uploaded to a bucket (`workdir_ref.store`; one served by the daemon costs the
  same wherever the job goes, so it does not change the ranking and is left out);
- the spec's declared `inputs` (bucket URL -> bytes).
The remaining runtime: `estimated_runtime` less the saved progress, else the time to the deadline, else a 1 h
horizon (DEFAULT_HORIZON_HOURS): a job that says nothing about its length weighs a one-off transfer against one
hour of price difference, which keeps it near its data only when the move costs more than an hour's saving.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.checkpoint.jobs import checkpoint_events, store_url, uploaded_versions
from orchestrator.config import Settings
from orchestrator.jobs.models import JobSpec
from orchestrator.logs import get_logger
from orchestrator.store.tables import Attempt, StoreRegion
from orchestrator.store.types import utcnow
from policies.totalcost import DEFAULT_HORIZON_HOURS, DataItem, DataProfile
from providers.base import Provider
from providers.plugin import BucketLocator, bucket_schemes, plugin

log = get_logger(__name__)

RETRY_FAILED_LOOKUP_SECONDS = 600.0  # a bucket S3 would not locate is asked again after this, not every pass
_failed: dict[str, float] = {}  # bucket key -> monotonic time of the failed lookup (per process)


def bucket_key(url: str) -> tuple[str, str] | None:
    """(cloud, 'scheme://bucket') of a store or input URL; None for a URL no cloud holds. A cloud whose buckets
    are all in one fixed place (the local disk) has one key for all of them."""
    parsed = urlparse(url)
    found = bucket_schemes().get(parsed.scheme)
    if found is None:
        return None
    cloud, scheme = found
    if isinstance(cloud.bucket_region, str):
        return cloud.name, f"{scheme}://"
    return cloud.name, f"{scheme}://{parsed.netloc.split('@')[-1]}"


def locate(session: Session, settings: Settings, providers: Mapping[str, Provider],
           url: str) -> tuple[str, str | None] | None:
    """(cloud, region or None when unknown) of the bucket behind `url`; None when `url` is no bucket.

    Asks the storage API at most once per bucket (kept in `store_regions`); a failed lookup is logged and
    retried after RETRY_FAILED_LOOKUP_SECONDS, the region meanwhile unknown."""
    found = bucket_key(url)
    if found is None:
        return None
    cloud, key = found
    declared = plugin(cloud)
    locator = declared.bucket_region if declared is not None else None
    if isinstance(locator, str):
        return cloud, locator
    configured = settings.transfer.bucket_regions.get(key) or settings.transfer.bucket_regions.get(url)
    if configured:
        return cloud, configured
    row = session.get(StoreRegion, key)
    if row is not None:
        return row.cloud, row.region
    if locator is None or time.monotonic() - _failed.get(key, float("-inf")) < RETRY_FAILED_LOOKUP_SECONDS:
        return cloud, None
    region = _ask(locator, providers.get(cloud), key.partition("://")[2])
    if region is None:
        _failed[key] = time.monotonic()
        return cloud, None
    session.add(StoreRegion(bucket=key, cloud=cloud, region=region, source="api", looked_up_at=utcnow()))
    session.flush()
    return cloud, region


def _ask(locator: BucketLocator, provider: Provider | None, bucket: str) -> str | None:
    """The bucket's region from the cloud's API (its plugin's locator, given the configured provider), or None.
    Best effort: whatever goes wrong (no credentials, no SDK, a wrapped provider's injected fault) leaves the
    region unknown -- it must never fail the job being placed."""
    try:
        return str(locator(bucket, provider))
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("bucket_region_unknown", bucket=bucket, error=f"{type(exc).__name__}: {exc}")
        return None


def checkpoint_bytes(session: Session, job_id: str) -> int:
    """The size of the job's latest uploaded checkpoint version (0 before its first upload)."""
    versions = uploaded_versions(checkpoint_events(session, job_id))
    return int(versions[-1]["size_bytes"]) if versions else 0


def remaining_hours(session: Session, job_id: str, spec: JobSpec, deadline_at: datetime | None,
                    now: datetime) -> tuple[float, str]:
    """(hours the job still has to run, where the figure comes from); see the module docstring."""
    if spec.estimated_runtime is not None:
        from orchestrator.provisioning.deadline import done_hours_for

        attempts = list(session.scalars(select(Attempt).where(Attempt.job_id == job_id)))
        done, source = done_hours_for(attempts, checkpoint_events(session, job_id), now)
        estimate = spec.estimated_runtime.total_seconds() / 3600.0
        left = max(estimate - done, 0.0)
        return left, f"estimated_runtime {estimate:.3g} h less {done:.3g} h done ({source})"
    if deadline_at is not None:
        left = max((deadline_at - now).total_seconds() / 3600.0, 0.0)
        return left, f"{left:.3g} h to the deadline (no estimated_runtime)"
    return DEFAULT_HORIZON_HOURS, f"default {DEFAULT_HORIZON_HOURS:g} h horizon (no estimated_runtime or deadline)"


def data_profile(session: Session, settings: Settings, providers: Mapping[str, Provider], spec: JobSpec, *,
                 job_id: str | None = None, deadline_at: datetime | None = None,
                 now: datetime | None = None, provider_hint: str = "") -> DataProfile:
    """What a new instance of the job must fetch, and for how long it will then run. `job_id` None: a job not
    yet submitted (a dry run): no checkpoint yet, the whole estimate (or the deadline) ahead."""
    now = now or utcnow()
    items: list[DataItem] = []
    if job_id is not None:
        size = checkpoint_bytes(session, job_id)
        url = store_url(settings, spec, provider_hint or "local", job_id)
        where = locate(session, settings, providers, url) if url and size else None
        if where is not None:
            items.append(DataItem("checkpoint", where[0], where[1], size))
    ref = spec.workdir_ref
    if ref is not None and ref.store != "daemon" and ref.bytes:
        where = locate(session, settings, providers, ref.store)
        if where is not None:
            items.append(DataItem("workdir", where[0], where[1], ref.bytes))
    for url, size in spec.inputs.items():
        where = locate(session, settings, providers, url)
        if where is not None:
            items.append(DataItem(url, where[0], where[1], size))
    if job_id is not None:
        hours, horizon = remaining_hours(session, job_id, spec, deadline_at, now)
    elif spec.estimated_runtime is not None:
        hours = spec.estimated_runtime.total_seconds() / 3600.0
        horizon = f"estimated_runtime {hours:.3g} h"
    else:
        at = spec.deadline_at(now)
        if at is not None:
            hours = max((at - now).total_seconds() / 3600.0, 0.0)
            horizon = f"{hours:.3g} h to the deadline (no estimated_runtime)"
        else:
            hours = DEFAULT_HORIZON_HOURS
            horizon = f"default {DEFAULT_HORIZON_HOURS:g} h horizon (no estimated_runtime or deadline)"
    startup = settings.transfer.startup_seconds or settings.changeover_seconds
    return DataProfile(tuple(items), hours, horizon, startup / 3600.0, spec.resources.num_nodes)


def active_provider(session: Session, job_id: str) -> str:
    """The provider of the job's latest attempt ('' when it has none): the local provider's store is its own."""
    row = session.scalar(select(Attempt.provider).where(Attempt.job_id == job_id)
                         .order_by(Attempt.number.desc()).limit(1))
    return row or ""

