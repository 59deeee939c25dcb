"""Data gravity in the simulator: a checkpoint of N GB in one store region, fetched by every new instance.

A move into a zone spends the checkpoint's transfer time there (at the rate `policies/egress.py` gives the path)
on top of the changeover, and pays its egress (the store's cloud bills it). The on-demand fallback is assumed
beside the data (the expected-total ranking puts it there: same region, no egress). The trace sets are AWS
zones named like `us-east-1a`; a zone's region is its name without the trailing letter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from orchestrator.sim.engine import ON_DEMAND
from policies.egress import TransferRates, move_kind

_AWS_ZONE = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$")


def zone_region(zone: str) -> str:
    """us-east-1a -> us-east-1 (AWS); us-central1-a -> us-central1 (GCP); anything else: itself."""
    match = _AWS_ZONE.match(zone)
    if match:
        return match[1]
    head, _, tail = zone.rpartition("-")
    return head if head and len(tail) == 1 else zone


@dataclass(frozen=True)
class DataGravity:
    """`checkpoint_gb` in (`store_cloud`, `store_region`); the traces' zones are in `trace_cloud`."""

    checkpoint_gb: float
    store_cloud: str
    store_region: str
    trace_cloud: str = "aws"
    rates: TransferRates = field(default_factory=TransferRates)

    def _hours(self, region: str) -> float:
        mb_s, _ = self.rates.mb_per_second(self.store_cloud, self.store_region, self.trace_cloud, region)
        return self.checkpoint_gb * 1e3 / mb_s / 3600.0

    def extra_hours(self, zones: Iterable[str]) -> tuple[tuple[str, float], ...]:
        """Per zone (and on-demand, beside the data): hours a new instance spends fetching the checkpoint."""
        return (*((z, self._hours(zone_region(z))) for z in zones), (ON_DEMAND, self._hours(self.store_region)))

    def egress_usd(self, moves: Sequence[str]) -> float:
        """What the moves of one replay paid in egress."""
        total = 0.0
        for zone in moves:
            region = self.store_region if zone == ON_DEMAND else zone_region(zone)
            kind = move_kind(self.store_cloud, self.store_region, self.trace_cloud, region)
            total += self.checkpoint_gb * self.rates.egress_usd_per_gb(self.store_cloud, kind)
        return total

    def transfer_hours(self, moves: Sequence[str]) -> float:
        extra = dict(self.extra_hours(m for m in moves if m != ON_DEMAND))
        return sum(extra.get(m, 0.0) for m in moves)
