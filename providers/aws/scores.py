"""Spot placement scores (1-10 per zone): AWS's own estimate that a spot request will succeed.

Optional (`placement_scores: true`): the call needs its own IAM permission and is rate limited
by AWS, so the adapter asks only when configured. The Offer type has no field for it yet, so
callers read it through `AWSProvider.placement_scores`.
"""

from __future__ import annotations

from providers.aws.errors import translated
from providers.aws.session import ClientFactory


def zone_names(clients: ClientFactory, region: str) -> dict[str, str]:
    """Zone id (use1-az1, stable across accounts) -> zone name (us-east-1a, shuffled per account)."""
    with translated():
        zones = clients.client("ec2", region).describe_availability_zones()["AvailabilityZones"]
    return {z["ZoneId"]: z["ZoneName"] for z in zones}


def placement_scores(
    clients: ClientFactory, instance_types: list[str], regions: list[str], *, target_capacity: int = 1
) -> dict[tuple[str, str], int]:
    """(region, zone name) -> score for running `target_capacity` instances of any of the given types."""
    ec2 = clients.client("ec2", regions[0])
    scores: dict[tuple[str, str], int] = {}
    with translated():
        pages = ec2.get_paginator("get_spot_placement_scores").paginate(
            InstanceTypes=instance_types, TargetCapacity=target_capacity, SingleAvailabilityZone=True,
            RegionNames=regions,
        )
        results = [r for page in pages for r in page.get("SpotPlacementScores", [])]
    names: dict[str, dict[str, str]] = {}
    for result in results:
        region = result["Region"]
        if region not in names:
            names[region] = zone_names(clients, region)
        zone = names[region].get(result.get("AvailabilityZoneId", ""), result.get("AvailabilityZoneId", ""))
        scores[(region, zone)] = int(result["Score"])
    return scores
