"""Prometheus gauges for energy and carbon, read from the store at scrape time.

Gauges rather than counters: the figures are recomputed from `energy_entries` on each scrape, so
every replica reports the same truth and a corrected facts table corrects the series.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from orchestrator.runtime import Runtime
from orchestrator.spending.energy import team_totals
from orchestrator.store.db import transaction


class EnergyCollector:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily]:
        energy = GaugeMetricFamily("spotwise_energy_kwh", "Energy drawn by job instances since records began",
                                   labels=["team", "method"])
        carbon = GaugeMetricFamily("spotwise_carbon_kg_co2e", "Operational emissions of job instances (energy x PUE "
                                   "x grid intensity)", labels=["team"])
        with transaction(self.rt.sessions) as s:
            totals = team_totals(s)
        for team, t in sorted(totals.items()):
            energy.add_metric([team, "measured"], t["measured_kwh"])
            energy.add_metric([team, "estimated"], t["estimated_kwh"])
            carbon.add_metric([team], t["kg_co2e"])
        yield energy
        yield carbon
