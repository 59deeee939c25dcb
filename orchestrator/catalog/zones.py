"""Imported price rows that name zones by ID get the account's zone names, so they are the same pools as live rows.

Why: SkyPilot's AWS vms.csv names zones by zone ID (`use1-az1`), which is stable across accounts, while
EC2 offers and launches use zone names (`us-east-1b`), which each account maps to physical zones
differently. A row left with its ID is a pool no live row ever replaces, and would be launched with an
ID where EC2 wants a name. Only a provider can say what the account's names are; one without that
ability (or a cloud that is not configured) leaves the rows as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from orchestrator.logs import get_logger
from providers.base import Offer

log = get_logger(__name__)


@runtime_checkable
class ZoneNaming(Protocol):
    """A provider that can translate zone IDs (the AWS adapter)."""

    def zone_names(self, regions: Sequence[str]) -> dict[str, dict[str, str]]:
        """region -> {zone ID: zone name}; regions it cannot ask are left out."""
        ...


def name_zones(offers: list[Offer], provider: object | None) -> tuple[list[Offer], int]:
    """The offers with zone IDs replaced by the provider's zone names, and how many rows kept an ID it does not know
    (no provider, a region not enabled for the account)."""
    if not offers or not isinstance(provider, ZoneNaming):
        return offers, 0
    names = provider.zone_names(sorted({o.region for o in offers}))
    named: list[Offer] = []
    unknown = 0
    for offer in offers:
        name = names.get(offer.region, {}).get(offer.zone)
        if name is None and offer.zone != offer.region and offer.zone not in names.get(offer.region, {}).values():
            unknown += 1
        named.append(offer if name is None else dataclasses.replace(offer, zone=name))
    if unknown:
        log.warning("catalog_zone_ids_unnamed", rows=unknown)
    return named, unknown
