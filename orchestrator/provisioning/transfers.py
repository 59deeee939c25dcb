"""Measured transfer rates: every checkpoint restore and upload an agent times is a sample of its path.

A path is (store cloud, store region, instance cloud, instance region); each sample also keeps the zone and
instance type for inspection. Why per region pair and not per pool: restores happen once per attempt, so a pool
rarely gathers enough samples, while the network between a bucket and a region is what the rate is about.
After `transfer.learn_after_samples` samples on a path, its measured rate (bytes over seconds of its latest
`WINDOW` samples, so a slow outlier moves it less than a mean of rates would) replaces the default in
`policies/egress.py` for every offer in that region.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.config import Settings
from orchestrator.provisioning.datagravity import locate
from orchestrator.store.tables import Attempt, TransferSample
from orchestrator.store.types import utcnow
from policies.egress import TransferRates
from providers.base import Provider

WINDOW = 20  # latest samples per path that make its rate
MAX_AGE = timedelta(days=30)  # older samples describe a network that may have changed
MAX_ROWS = 20_000  # newest samples read per pass: enough for a thousand busy paths, bounded for the loop
MIN_BYTES = 1_000_000  # a tiny transfer measures latency, not throughput: not a sample


Path = tuple[str, str, str, str]


def record_transfer(session: Session, settings: Settings, providers: Mapping[str, Provider], attempt: Attempt,
                    store: str | None, direction: str, size: int, seconds: float) -> bool:
    """Keep one measured restore/upload of `attempt` (False: not a usable sample -- too small, no time, or a
    store whose region is unknown)."""
    if not store or size < MIN_BYTES or not seconds > 0:
        return False
    where = locate(session, settings, providers, store)
    if where is None or where[1] is None:
        return False
    session.add(TransferSample(at=utcnow(), job_id=attempt.job_id, attempt_id=attempt.id, direction=direction,
                               store_cloud=where[0], store_region=where[1], cloud=attempt.provider,
                               region=attempt.region, zone=attempt.zone, instance_type=attempt.instance_type,
                               bytes=int(size), seconds=float(seconds)))
    return True


def learned_rates(session: Session, min_samples: int) -> dict[Path, tuple[float, int]]:
    """path -> (MB/s measured, samples) for every path with at least `min_samples` recent samples."""
    rows = session.execute(
        select(TransferSample.store_cloud, TransferSample.store_region, TransferSample.cloud,
               TransferSample.region, TransferSample.bytes, TransferSample.seconds)
        .where(TransferSample.at >= utcnow() - MAX_AGE).order_by(TransferSample.at.desc()).limit(MAX_ROWS))
    per_path: dict[Path, list[tuple[int, float]]] = {}
    for sc, sr, c, r, size, seconds in rows:
        samples = per_path.setdefault((sc.lower(), sr.lower(), c.lower(), r.lower()), [])
        if len(samples) < WINDOW:
            samples.append((size, seconds))
    return {path: (sum(b for b, _ in s) / sum(t for _, t in s) / 1e6, len(s))
            for path, s in per_path.items() if len(s) >= min_samples and sum(t for _, t in s) > 0}


def transfer_rates(session: Session, settings: Settings) -> TransferRates:
    """The table with the settings' overrides and this daemon's measured rates on top."""
    t = settings.transfer
    learned = {path: rate for path, (rate, _) in learned_rates(session, t.learn_after_samples).items()}
    return TransferRates(egress=t.egress_usd_per_gb, throughput=t.throughput_mb_s, instance_mb_s=t.instance_mb_s,
                         learned=learned)


def rates_view(session: Session, settings: Settings) -> list[dict[str, Any]]:
    """Every path with samples, its measured rate and whether it is used yet (for the offers view's footer)."""
    need = settings.transfer.learn_after_samples
    return [{"store": f"{sc} {sr}", "instances": f"{c} {r}", "mb_per_s": round(rate, 2), "samples": n,
             "used": n >= need}
            for (sc, sr, c, r), (rate, n) in sorted(learned_rates(session, 1).items())]
