"""Which subnetwork a VM in each region gets: the `subnetwork` setting as a map region -> subnetwork.

Why a map: subnetworks are regional resources (https://cloud.google.com/vpc/docs/subnets), and an instance's
network interface must use one in the instance's own region. A single `subnetwork` value was sent to every
region, so on a custom-mode VPC every launch outside that one region failed. A single value is still accepted
when exactly one region is configured (it can only mean that region); otherwise the map is required, and only
regions that have a subnetwork are offered (providers/gcp/discovery.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from providers.errors import CapacityError, ErrorScope, InvalidRequest
from providers.gcp.shapes import region_of

_REGION_IN_PATH = re.compile(r"(?:^|/)regions/([^/]+)/subnetworks/([^/]+)$")
_EXAMPLE = "subnetwork: {us-central1: regions/us-central1/subnetworks/NAME, europe-west4: NAME}"


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(f"gcp subnetwork: {message}", provider="gcp")


def _normalise(region: str, value: Any) -> str:
    """`NAME` -> regions/REGION/subnetworks/NAME (the instances.insert partial URL); a URL or partial URL that
    names a region must name this one."""
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"the subnetwork for {region} must be a non-empty name or URL, not {value!r}")
    value = value.strip()
    if "/" not in value:
        return f"regions/{region}/subnetworks/{value}"
    match = _REGION_IN_PATH.search(value)
    if match is None:
        raise _bad(f"{value!r} is not a subnetwork name or a .../regions/REGION/subnetworks/NAME URL")
    if match.group(1) != region:
        raise _bad(f"{value!r} is in region {match.group(1)}, but it is given for {region}: a VM can only use a "
                   "subnetwork of its own region")
    return value


def configured_regions(zones: Iterable[str], regions: Iterable[str]) -> set[str]:
    return {region_of(z) for z in zones} | set(regions)


def parse_subnetworks(raw: Any, regions: set[str]) -> dict[str, str]:
    """The `subnetwork` setting as {region: subnetwork}; {} when unset (the network's auto-mode subnetworks)."""
    if raw is None or raw == "" or raw == {}:
        return {}
    if isinstance(raw, str):
        if len(regions) != 1:
            used = ", ".join(sorted(regions)) if regions else "every region of the project (no regions configured)"
            raise _bad(f"one value is given but the provider launches in {used}, and subnetworks are regional; "
                       f"give one per region: {_EXAMPLE}")
        (region,) = regions
        return {region: _normalise(region, raw)}
    if not isinstance(raw, Mapping):
        raise _bad(f"must be a name, a URL or a map region -> subnetwork, not {type(raw).__name__}; {_EXAMPLE}")
    unknown = sorted(str(r) for r in raw if regions and r not in regions)
    if unknown:
        raise _bad(f"given for {', '.join(unknown)}, which the provider does not launch in (configured: "
                   f"{', '.join(sorted(regions))})")
    return {str(region): _normalise(str(region), value) for region, value in raw.items()}


def subnetwork_for(subnetworks: Mapping[str, str], zone: str) -> str | None:
    """The subnetwork a VM in `zone` uses; None when none are configured (the network picks its own).

    A region without one (an offer imported from a catalog, not listed by this provider) cannot launch here:
    a capacity error at region scope, so placement moves on instead of failing the job."""
    if not subnetworks:
        return None
    region = region_of(zone)
    if region not in subnetworks:
        raise CapacityError(f"no gcp subnetwork is configured for region {region} (configured: "
                            f"{', '.join(sorted(subnetworks))})", provider="gcp", raw_code="noSubnetworkForRegion",
                            scope=ErrorScope.REGION)
    return subnetworks[region]
