"""Per-zone spot prices and the on-demand price for a replay, read from a catalog (SkyPilot `vms.csv`).

Without prices the simulator prices a spot hour at 1 and on-demand at k = 3.06/0.9731 (the paper's p3.2xlarge),
which is what the benchmark protocol compares against. With a catalog, each trace zone gets its instance type's
spot price and the replay is in dollars; ratios stay relative to on-demand, so tables remain comparable.

Trace zones are zone names (`us-west-2a`). GCP catalogs list zones by name and match exactly. AWS catalogs list
zone IDs (`usw2-az1`), whose mapping to names differs per account, and Azure lists regions only; there a trace
zone takes the mean spot price of the catalog's zones in its region, and a note says so (the CLI prints it), so
a what-if on prices is never silently built on a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean

from orchestrator.catalog.vmscsv import read_vms_csv
from providers.base import Offer


@dataclass(frozen=True)
class ZonePrices:
    """Spot price per trace zone and the on-demand price to fall back to (USD per instance-hour)."""

    spot: dict[str, float]
    on_demand: float
    notes: tuple[str, ...] = ()


def _region_of(zone: str, regions: set[str]) -> str | None:
    """The longest catalog region that `zone` starts with (`us-west-2a` -> `us-west-2`, not `us-west-2-lax`)."""
    matches = [r for r in regions if zone.startswith(r)]
    return max(matches, key=len) if matches else None


def catalog_prices(text: str, cloud: str, instance_type: str, zones: tuple[str, ...]) -> ZonePrices:
    """Prices of `instance_type` for each trace zone. Raises ValueError naming what is missing.

    On-demand is the cheapest on-demand price among the trace zones' regions: the daemon's fallback takes
    the cheapest on-demand offer it may use, and the simulator's on-demand has no zone.
    """
    offers, _ = read_vms_csv(text, cloud)
    mine = [o for o in offers if o.instance_type == instance_type]
    if not mine:
        types = sorted({o.instance_type for o in offers if o.gpu_count})[:12]
        raise ValueError(f"instance type {instance_type!r} is not in the {cloud} catalog; GPU types there "
                         f"include {', '.join(types) or 'none'}")
    spot_offers = [o for o in mine if o.spot]
    regions = {o.region for o in mine}
    spot: dict[str, float] = {}
    notes: list[str] = []
    used_regions: set[str] = set()
    missing: list[str] = []
    for zone in zones:
        exact = [o for o in spot_offers if o.zone == zone]
        region = _region_of(zone, regions)
        if exact:
            cheapest = min(exact, key=lambda o: o.price_per_hour)
            spot[zone], region = cheapest.price_per_hour, cheapest.region
        elif region is not None and (in_region := _in_region(spot_offers, region)):
            spot[zone] = fmean(in_region)
            notes.append(f"{zone}: not a zone of the catalog; priced at region {region}'s mean spot price "
                         f"over {len(in_region)} zone(s), ${spot[zone]:.4f}/h")
        else:
            missing.append(zone)
            continue
        if region is not None:
            used_regions.add(region)
    if missing:
        raise ValueError(f"no spot price for {instance_type} in zone(s) {', '.join(missing)} of the {cloud} "
                         f"catalog (its regions for that type: {', '.join(sorted(regions)[:12])})")
    on_demand = [o.price_per_hour for o in mine if not o.spot and o.region in used_regions]
    if not on_demand:
        raise ValueError(f"no on-demand price for {instance_type} in region(s) {', '.join(sorted(used_regions))}")
    return ZonePrices(spot, min(on_demand), tuple(notes))


def _in_region(offers: list[Offer], region: str) -> list[float]:
    return [o.price_per_hour for o in offers if o.region == region]
