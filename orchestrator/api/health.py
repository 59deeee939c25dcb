"""/healthz (liveness + database) and /metrics (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text

from orchestrator.api.deps import RuntimeDep
from orchestrator.api.errors import ApiError
from orchestrator.jobs.models import JobState
from orchestrator.metrics import ReplicaCollector, SpendingCollector
from orchestrator.ops_metrics import LatencyCollector, OpsCollector
from orchestrator.runtime import Runtime
from orchestrator.spending.energy_metrics import EnergyCollector
from orchestrator.store.db import transaction
from orchestrator.store.tables import Instance, Job

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(rt: RuntimeDep) -> dict[str, object]:
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means not healthy
        raise ApiError(503, "unhealthy", f"database unreachable: {type(exc).__name__}") from None
    return {"status": "ok", "cluster": rt.cluster_id, "providers": sorted(rt.providers),
            "provider_errors": rt.provider_errors}


class StoreCollector:
    """Reads gauges from the database at scrape time, so every replica reports the same truth."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self):  # type: ignore[no-untyped-def]
        jobs = GaugeMetricFamily("spotwise_jobs", "Jobs by state", labels=["state"])
        instances = GaugeMetricFamily("spotwise_instances", "Live instances", labels=["provider", "spot"])
        spend = GaugeMetricFamily("spotwise_spend_rate_usd_per_hour", "Hourly price of live instances")
        with transaction(self.rt.sessions) as s:
            counts = dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all())
            live = s.execute(select(Instance.provider, Instance.spot, func.count(), func.sum(Instance.price_per_hour))
                             .where(Instance.ended_at.is_(None)).group_by(Instance.provider, Instance.spot)).all()
        for state in JobState:
            jobs.add_metric([state.value], counts.get(state.value, 0))
        total = 0.0
        for provider, spot, count, price in live:
            instances.add_metric([provider, "true" if spot else "false"], count)
            total += price or 0.0
        spend.add_metric([], total)
        yield jobs
        yield instances
        yield spend


@router.get("/metrics", response_class=PlainTextResponse)  # the schema says text, not JSON
def metrics(rt: RuntimeDep) -> Response:
    registry = CollectorRegistry()
    registry.register(StoreCollector(rt))  # type: ignore[arg-type]
    registry.register(EnergyCollector(rt))  # type: ignore[arg-type]  # energy and carbon per team
    registry.register(ReplicaCollector(rt))  # type: ignore[arg-type]  # replicas: leases, loop durations
    registry.register(SpendingCollector(rt))  # type: ignore[arg-type]  # spending: alerts pending, budgets
    registry.register(OpsCollector(rt))  # type: ignore[arg-type]  # preemptions, price age, agents' silence
    registry.register(LatencyCollector(rt))  # type: ignore[arg-type]  # placement latency (this replica's)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
