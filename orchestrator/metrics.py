"""Replica and spending gauges for /metrics, next to the store gauges in api/health.py.

Why two sources: leadership and loop durations are facts of *this* replica (each replica reports
its own, so a dashboard can see which one leads each loop and how long its passes take), while
alerts pending and budget utilisation are read from the database at scrape time, so every replica
reports the same truth whichever one happens to be scraped.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator.runtime import Runtime
from orchestrator.spending.budget import spend_by_budget
from orchestrator.spending.policy_store import current_policy
from orchestrator.store.db import transaction
from orchestrator.store.tables import Alert, AlertDelivery
from orchestrator.store.types import utcnow


class ReplicaCollector:
    """spotwise_loop_leader{loop}, spotwise_loop_last_duration_seconds{loop}, pass and failure counters."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        leader = GaugeMetricFamily("spotwise_loop_leader", "1 when this replica holds the loop's lease",
                                   labels=["loop"])
        last = GaugeMetricFamily("spotwise_loop_last_duration_seconds", "Duration of this replica's last pass",
                                 labels=["loop"])
        seconds = CounterMetricFamily("spotwise_loop_duration_seconds", "Total time in passes on this replica",
                                      labels=["loop"])
        passes = CounterMetricFamily("spotwise_loop_passes", "Passes run on this replica", labels=["loop"])
        failures = CounterMetricFamily("spotwise_loop_failures", "Passes that raised", labels=["loop"])
        leases = self.rt.leases
        for name, stats in sorted((leases.stats if leases is not None else {}).items()):
            leader.add_metric([name], 1.0 if stats.leader else 0.0)
            last.add_metric([name], stats.last_duration_s)
            seconds.add_metric([name], stats.total_duration_s)
            passes.add_metric([name], stats.passes)
            failures.add_metric([name], stats.failures)
        yield from (leader, last, seconds, passes, failures)


class SpendingCollector:
    """spotwise_alerts_pending, spotwise_budget_utilisation_ratio{budget,scope}, spotwise_budget_spent_usd."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily("spotwise_alerts_pending",
                                    "Alert deliveries not yet delivered or given up, plus alerts not yet routed")
        ratio = GaugeMetricFamily("spotwise_budget_utilisation_ratio", "Spent this period / the budget's limit",
                                  labels=["budget", "scope"])
        spent = GaugeMetricFamily("spotwise_budget_spent_usd", "Spent this period in the budget's scope",
                                  labels=["budget", "scope"])
        with transaction(self.rt.sessions) as s:
            waiting = s.scalar(select(func.count()).select_from(AlertDelivery)
                               .where(AlertDelivery.state == "pending")) or 0
            unrouted = s.scalar(select(func.count()).select_from(Alert).where(Alert.routed.is_(False))) or 0
            pending.add_metric([], waiting + unrouted)
            for name, scope, used, limit in budget_usage(s):
                spent.add_metric([name, scope], used)
                ratio.add_metric([name, scope], used / limit if limit > 0 else 0.0)
        yield from (pending, ratio, spent)


def budget_usage(s: Session) -> list[tuple[str, str, float, float]]:
    """(budget, scope, spent this period, limit) for each budget in force.

    The sweep's own sum (`budgets.spend_by_budget`): scopes are matched in SQL, so a scrape reads no
    job rows but the few pending accrual, and the gauge shows exactly the spend the budget loop acts on.
    """
    policy = current_policy(s)
    if not policy.budgets:
        return []
    spent = spend_by_budget(s, policy.budgets, utcnow())
    return [(b.name, b.scope, spent[b.name], b.limit_usd) for b in policy.budgets]
