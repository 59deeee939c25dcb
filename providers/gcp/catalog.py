"""An imported price catalog in SkyPilot's GCP `vms.csv` format, the fallback when billing is down.

In that format GPUs are separate rows (empty InstanceType, AcceleratorName + AcceleratorCount,
per zone) and host rows carry only the VM's own price -- for N1 *and* for a2/a3/g2. So an offer
costs its host row plus the accelerator row for (GPU, count, zone), as on the real bill.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from providers.gcp.shapes import Shape


@dataclass
class VmsCatalog:
    """Host and accelerator prices by zone, read once from a vms.csv file."""

    source: str = "catalog"
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    hosts: dict[tuple[str, str], tuple[float | None, float | None]] = field(default_factory=dict)
    gpus: dict[tuple[str, int, str], tuple[float | None, float | None]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> VmsCatalog:
        catalog = cls(fetched_at=datetime.fromtimestamp(path.stat().st_mtime, UTC))
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                prices = (_num(row.get("Price")), _num(row.get("SpotPrice")))
                zone = row.get("AvailabilityZone") or ""
                if row.get("InstanceType"):
                    catalog.hosts[(row["InstanceType"], zone)] = prices
                elif row.get("AcceleratorName") and row.get("AcceleratorCount"):
                    count = int(float(row["AcceleratorCount"]))
                    catalog.gpus[(row["AcceleratorName"], count, zone)] = prices
        return catalog

    def quote(self, region: str, zone: str, shape: Shape, spot: bool) -> float | None:
        host = self.hosts.get((shape.machine_type, zone))
        host_price = host[1 if spot else 0] if host else None
        if host_price is None:
            return None
        if not shape.gpu_count:
            return host_price
        gpu = self.gpus.get((shape.gpu_model, shape.gpu_count, zone))
        gpu_price = gpu[1 if spot else 0] if gpu else None
        return None if gpu_price is None else round(host_price + gpu_price, 6)


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
