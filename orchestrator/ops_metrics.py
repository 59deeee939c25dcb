"""Operations gauges for /metrics, read from the database at scrape time: preemptions per zone, the age of each
price source, and how long each running agent has been silent.

Why from the database: every replica then reports the same truth whichever one is scraped (as the job and budget
gauges in api/health.py and metrics.py), and a replica that just took over a loop reports the history too.
The dashboard (deploy/grafana/spotwise.json) and the alert rules (deploy/prometheus/alerts.yaml) read these;
docs/operations.md says what each alert means and what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select

from orchestrator.jobs.attempts import AttemptState
from orchestrator.runtime import Runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, PriceSource
from orchestrator.store.types import utcnow


def _age(now: datetime, then: datetime) -> float:
    then = then if then.tzinfo else then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


class OpsCollector:
    """spotwise_preemptions_total{provider,zone}, spotwise_price_age_seconds{cloud,source},
    spotwise_price_refresh_failures{cloud,source}, spotwise_agent_last_seen_age_seconds{...}."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        preemptions = CounterMetricFamily(
            "spotwise_preemptions", "Attempts whose spot instance was reclaimed, since records began",
            labels=["provider", "zone"])
        price_age = GaugeMetricFamily(
            "spotwise_price_age_seconds", "Seconds since the price source last fetched (or imported) its prices",
            labels=["cloud", "source"])
        failures = GaugeMetricFamily(
            "spotwise_price_refresh_failures", "Consecutive failed refreshes of the price source (0 when the last "
            "one worked)", labels=["cloud", "source"])
        agents = GaugeMetricFamily(
            "spotwise_agent_last_seen_age_seconds", "Seconds since a launched attempt's agent last sent a "
            "heartbeat (since launch while it has not reported yet: reporting=\"false\")",
            labels=["job_id", "attempt", "provider", "zone", "reporting"])
        now = utcnow()
        with transaction(self.rt.sessions) as s:
            reclaimed = s.execute(select(Attempt.provider, Attempt.zone, func.count())
                                  .where(Attempt.state == AttemptState.PREEMPTED.value)
                                  .group_by(Attempt.provider, Attempt.zone)).all()
            sources = s.execute(select(PriceSource.cloud, PriceSource.source, PriceSource.fetched_at,
                                       PriceSource.failures)).all()
            live = s.execute(select(Attempt.job_id, Attempt.number, Attempt.provider, Attempt.zone, Attempt.state,
                                    Attempt.last_heartbeat_at, Attempt.launched_at, Attempt.created_at)
                             .where(Attempt.state.in_([AttemptState.LAUNCHED.value, AttemptState.RUNNING.value]))
                             ).all()
        for provider, zone, count in sorted(reclaimed):
            preemptions.add_metric([provider, zone], count)
        for cloud, source, fetched_at, failed in sorted(sources, key=lambda r: (r[0], r[1])):
            if fetched_at is not None:
                price_age.add_metric([cloud, source], _age(now, fetched_at))
            failures.add_metric([cloud, source], failed or 0)
        for job_id, number, provider, zone, state, beat, launched, created in live:
            reporting = state == AttemptState.RUNNING.value
            seen = (beat if reporting else None) or launched or created
            agents.add_metric([job_id, str(number), provider, zone, "true" if reporting else "false"],
                              _age(now, seen))
        yield from (preemptions, price_age, failures, agents)


class LatencyCollector:
    """This replica's spotwise_placement_latency_seconds histogram (orchestrator/placement_latency.py)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        yield from self.rt.placement_latency.collect()
