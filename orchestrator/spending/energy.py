"""Energy and carbon per attempt, job, team and period, from the agents' heartbeats.

Why integrate at heartbeat time: each heartbeat carries the GPUs' power (NVML, measured) or only
their utilisation (or nothing); the handler turns it into the instance's power now and adds the
trapezoid since the previous heartbeat to the attempt's `EnergyEntry` of the day, in the same
transaction. Nothing else has to keep raw samples, and a daemon restart loses nothing (the last
sample is in the row). Carbon is computed when read, from the region and `policies.energy`'s
facts table, so a corrected table fixes history too.

What each figure is: GPU energy is "measured" when NVML reported board power at both ends of the
interval, otherwise "estimated" (board power from the facts table x utilisation; no utilisation
figure while the job runs counts as full load, e.g. the local provider's simulated GPUs). The host
share (CPUs, memory) is always estimated. The uncovered parts are the boot before the first
heartbeat and the teardown after the last one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.store.tables import Attempt, EnergyEntry, Job
from policies.energy import MAX_GAP_SECONDS, carbon_facts, estimated_gpu_watts, host_watts, kg_co2e

GROUPS = ("team", "project", "job", "attempt", "cloud", "region", "day")


def instance_power(offer: dict[str, Any], phase: str, gpu_utilization: float | None,
                   gpu_power_watts: float | None) -> tuple[float, float, bool]:
    """(GPU watts, host watts, measured?) of an instance now, from one heartbeat."""
    host = host_watts(float(offer.get("vcpus") or 0.0), float(offer.get("memory_gb") or 0.0))
    if gpu_power_watts is not None:
        return gpu_power_watts, host, True
    util = gpu_utilization if gpu_utilization is not None else (None if phase == "running" else 0.0)
    gpu = estimated_gpu_watts(str(offer.get("gpu_model") or ""), int(offer.get("gpu_count") or 0), util)
    return gpu, host, False


def record_power(session: Session, attempt: Attempt, job: Job, at: datetime, phase: str,
                 gpu_utilization: float | None, gpu_power_watts: float | None) -> None:
    """Called from the heartbeat handler, in its transaction: integrate since the previous heartbeat."""
    gpu, host, measured = instance_power(attempt.offer or {}, phase, gpu_utilization, gpu_power_watts)
    nodes = attempt.nodes or 1  # a gang's nodes take turns heartbeating; each beat stands for all N
    gpu, host = gpu * nodes, host * nodes
    last = session.scalars(select(EnergyEntry).where(EnergyEntry.attempt_id == attempt.id)
                           .order_by(EnergyEntry.day.desc()).limit(1)).first()
    day = at.date().isoformat()
    row = last if last is not None and last.day == day else session.get(EnergyEntry, (attempt.id, day))
    if row is None:
        row = EnergyEntry(attempt_id=attempt.id, day=day, job_id=job.id, team=job.team, project=job.project,
                          cloud=attempt.provider, region=attempt.region, gpu_measured_wh=0.0, gpu_estimated_wh=0.0,
                          host_wh=0.0, seconds=0.0)
        session.add(row)
    if last is not None:
        dt = min(max(0.0, (at - last.last_at).total_seconds()), MAX_GAP_SECONDS)
        gpu_wh = dt * (last.last_gpu_watts + gpu) / 2.0 / 3600.0
        if measured and last.last_measured:
            row.gpu_measured_wh = (row.gpu_measured_wh or 0.0) + gpu_wh
        else:
            row.gpu_estimated_wh = (row.gpu_estimated_wh or 0.0) + gpu_wh
        row.host_wh = (row.host_wh or 0.0) + dt * (last.last_host_watts + host) / 2.0 / 3600.0
        row.seconds = (row.seconds or 0.0) + dt
    row.last_at, row.last_gpu_watts, row.last_host_watts, row.last_measured = at, gpu, host, measured


def method(measured_kwh: float, gpu_estimated_kwh: float) -> str:
    """How the GPU energy was obtained: measured, estimated, mixed, or none (no samples)."""
    if measured_kwh > 0 and gpu_estimated_kwh > 0:
        return "mixed"
    if measured_kwh > 0:
        return "measured"
    return "estimated" if gpu_estimated_kwh > 0 else "none"


def _key(e: EnergyEntry, by: str) -> str:
    return {"team": e.team, "project": e.project or "-", "job": e.job_id, "attempt": e.attempt_id,
            "cloud": e.cloud, "region": e.region, "day": e.day}[by]


def summarize(entries: Iterable[EnergyEntry]) -> dict[str, Any]:
    """Totals of some entries: kWh split into measured and estimated, kg CO2e, and the method."""
    facts = carbon_facts()
    measured = gpu_est = host = kg = seconds = 0.0
    for e in entries:
        kwh = (e.gpu_measured_wh + e.gpu_estimated_wh + e.host_wh) / 1000.0
        measured += e.gpu_measured_wh / 1000.0
        gpu_est += e.gpu_estimated_wh / 1000.0
        host += e.host_wh / 1000.0
        seconds += e.seconds
        kg += kg_co2e(kwh, facts.intensity(e.cloud, e.region))
    return {"energy_kwh": round(measured + gpu_est + host, 6), "measured_kwh": round(measured, 6),
            "estimated_kwh": round(gpu_est + host, 6), "gpu_kwh": round(measured + gpu_est, 6),
            "host_kwh": round(host, 6), "kg_co2e": round(kg, 6), "method": method(measured, gpu_est),
            "seconds": round(seconds, 3)}


def _entries(session: Session, *, since: datetime | None = None, until: datetime | None = None,
             team: str | None = None, job_ids: Iterable[str] | None = None) -> list[EnergyEntry]:
    stmt = select(EnergyEntry)
    if since is not None:
        stmt = stmt.where(EnergyEntry.day >= since.date().isoformat())
    if until is not None:
        stmt = stmt.where(EnergyEntry.day <= until.date().isoformat())
    if team is not None:
        stmt = stmt.where(EnergyEntry.team == team)
    if job_ids is not None:
        stmt = stmt.where(EnergyEntry.job_id.in_(list(job_ids)))
    return list(session.scalars(stmt))


def report(session: Session, by: str, *, since: datetime | None = None, until: datetime | None = None,
           team: str | None = None) -> list[dict[str, Any]]:
    """Energy and carbon grouped by one attribute (day granularity for since/until), most carbon first."""
    if by not in GROUPS:
        raise ValueError(f"energy cannot be grouped by {by!r}; choose one of: {', '.join(GROUPS)}")
    groups: dict[str, list[EnergyEntry]] = defaultdict(list)
    for e in _entries(session, since=since, until=until, team=team):
        groups[_key(e, by)].append(e)
    rows = [{by: key, **summarize(items)} for key, items in groups.items()]
    return sorted(rows, key=lambda r: -float(r["kg_co2e"]))


def job_energy(session: Session, job_id: str) -> dict[str, Any]:
    """A job's totals plus one summary per attempt id: what `jobs show` prints."""
    entries = _entries(session, job_ids=[job_id])
    per_attempt: dict[str, list[EnergyEntry]] = defaultdict(list)
    for e in entries:
        per_attempt[e.attempt_id].append(e)
    return {**summarize(entries), "attempts": {a: summarize(items) for a, items in per_attempt.items()}}


def team_totals(session: Session) -> dict[str, dict[str, Any]]:
    """Per team, all time: the Prometheus gauges."""
    groups: dict[str, list[EnergyEntry]] = defaultdict(list)
    for e in _entries(session):
        groups[e.team].append(e)
    return {team: summarize(items) for team, items in groups.items()}


def merge_costs(by: str, cost_rows: list[dict[str, Any]], energy_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Cost rows with each group's energy fields added (groups with energy but no cost too), and totals."""
    blank = summarize([])
    by_key = {r[by]: r for r in energy_rows}
    items = [{**r, **{k: v for k, v in by_key.get(r[by], blank).items() if k != by}} for r in cost_rows]
    seen = {r[by] for r in cost_rows}
    items += [{by: r[by], "cost_usd": 0.0, "instance_hours": 0.0, **{k: v for k, v in r.items() if k != by}}
              for r in energy_rows if r[by] not in seen]
    return {"items": items, "total_kwh": round(sum(float(r["energy_kwh"]) for r in energy_rows), 6),
            "total_kg_co2e": round(sum(float(r["kg_co2e"]) for r in energy_rows), 6)}
