"""The AWS launch preflight: every resource a launch references, read, and the launch itself as a DryRun.

Why DryRun: EC2 answers `RunInstances(DryRun=True)` with `DryRunOperation` when the request would have succeeded
and with the launch's own error otherwise (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html,
"DryRun"), at no cost. The request is `AWSProvider.run_request`, the one a real launch sends, so the preflight cannot
drift from the launcher. Endpoints that do not check everything a DryRun should (moto answers `DryRunOperation`
before looking at the image or subnet) are covered by reading each resource first: the image (DescribeImages), the
subnet of each zone and its VPC's security groups, and the vCPU quota of each GPU family (Service Quotas).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from providers.aws.errors import translated
from providers.aws.offers import TypeShape
from providers.aws.quotas import QUOTA_CODES, QUOTA_NAMES, family_group
from providers.base import Offer, PreflightRow, credentials_row, preflight_spec
from providers.errors import ProviderError

if TYPE_CHECKING:
    from providers.aws.provider import AWSProvider

NAME = "aws"


def _ok(check: str, where: str, detail: str) -> PreflightRow:
    return PreflightRow(check, NAME, where, True, detail=detail)


def _fail(check: str, where: str, fix: str) -> PreflightRow:
    return PreflightRow(check, NAME, where, False, fix=fix)


def preflight(provider: AWSProvider, api_url: str, *, cloud_calls: bool = True) -> list[PreflightRow]:
    """Credentials once, then per region (in parallel): image, quotas, and per zone network + DryRun launch."""
    if not cloud_calls:
        return []  # nothing of the aws section can be checked without asking EC2 (zones, subnets, images)
    creds = credentials_row(provider, provider.config.regions[0])
    if not creds.ok:
        return [creds]
    results = provider._each_region(list(provider.config.regions),
                                    lambda region: region_rows(provider, region, api_url))
    rows = [creds]
    for region, value in results.items():
        if isinstance(value, ProviderError):
            rows.append(_fail("region", region, f"cannot ask EC2 in {region} ({type(value).__name__}: {value}); "
                                                "enable the region for the account or remove it from `regions`"))
        else:
            rows.extend(value)
    return rows


def region_rows(provider: AWSProvider, region: str, api_url: str) -> list[PreflightRow]:
    shapes = provider.catalog.shapes(region)
    if not shapes:
        families = ", ".join(provider.config.instance_families)
        return [_fail("instance types", region, f"no GPU instance type of {families} is offered in {region}: pick a "
                                                "region with GPUs or widen `instance_families`")]
    rows = [image_row(provider, region, arch) for arch in sorted({s.architecture for s in shapes.values()})]
    images_ok = all(r.ok for r in rows)
    rows += quota_rows(provider, region, shapes)
    zones_by_type = provider.catalog.zones(region, sorted(shapes))
    zones = sorted({z for zs in zones_by_type.values() for z in zs})
    network = network_rows(provider, region, zones)
    for zone in zones:
        rows.append(network[zone])
        if network[zone].ok and images_ok:  # a failed resource above already carries the fix
            rows.append(dry_run_row(provider, region, zone, shapes, zones_by_type, api_url))
    return rows


def image_row(provider: AWSProvider, region: str, architecture: str) -> PreflightRow:
    check = "image" if architecture == "x86_64" else f"image ({architecture})"
    setting = "ami" if architecture == "x86_64" else "ami_arm64"
    try:
        image = provider.images.image_for(region, architecture)
    except ProviderError as exc:
        return _fail(check, region, f"no image resolves in {region} ({exc}); set `{setting}` in the aws config")
    try:
        with translated():
            found = provider.clients.client("ec2", region).describe_images(ImageIds=[image]).get("Images", [])
    except ProviderError as exc:
        if not exc.raw_code.startswith("InvalidAMIID"):
            return _fail(check, region, f"cannot read AMI {image} ({type(exc).__name__}: {exc})")
        found = []
    if not found:
        return _fail(check, region, f"AMI {image} does not exist in {region} (AMI ids are per region): set "
                                    f"`{setting}` to an image of {region}, e.g. {setting}: {{{region}: ami-...}}")
    state = str(found[0].get("State", "available"))
    if state != "available":
        return _fail(check, region, f"AMI {image} in {region} is {state}, not available: set `{setting}` to another")
    return _ok(check, region, f"{image} {found[0].get('Name', '')}".strip())


def quota_rows(provider: AWSProvider, region: str, shapes: dict[str, TypeShape]) -> list[PreflightRow]:
    """Per GPU family group and market: is the vCPU quota at least the smallest type of the family?"""
    if not provider.config.service_quotas:
        return [_ok("quota", region, "not checked (service_quotas: false)")]
    limits = provider.quotas.limits(region)
    rows = []
    for (group, spot), code in QUOTA_CODES.items():
        family = [s for t, s in shapes.items() if family_group(t) == group]
        if not family:
            continue
        smallest = min(family, key=lambda s: (s.vcpus, s.instance_type))
        check = f"quota {group.upper()} {'spot' if spot else 'on-demand'}"
        limit = limits.get((group, spot))
        if limit is None:
            rows.append(_ok(check, region, f"{code} unknown (not readable); a launch over it fails with a quota error"))
        elif limit < smallest.vcpus:
            rows.append(_fail(check, region, (
                f"vCPU quota {code} ({QUOTA_NAMES[code]}) in {region} is {limit:g}, below the {smallest.vcpus:g} of "
                f"{smallest.instance_type}: request an increase in the Service Quotas console")))
        else:
            rows.append(_ok(check, region, f"{code}: {limit:g} vCPUs"))
    return rows


def network_rows(provider: AWSProvider, region: str, zones: Sequence[str]) -> dict[str, PreflightRow]:
    """zone -> the network row: the subnet a launch there uses (configured, or the default VPC's) and its groups."""
    ec2 = provider.clients.client("ec2", region)
    if provider.network.restricted:
        by_zone = provider.network.by_zone(region)
        subnets = {z: (s.id, s.vpc_id) for z, s in by_zone.items()}
        missing_fix = ("no subnet of `subnet_ids` is in {zone}, where GPU types are offered: add a subnet of {zone} "
                       "to subnet_ids (a subnet lives in one zone)")
    else:
        with translated():
            pages = ec2.get_paginator("describe_subnets").paginate(
                Filters=[{"Name": "default-for-az", "Values": ["true"]}])
            subnets = {str(s["AvailabilityZone"]): (str(s["SubnetId"]), str(s.get("VpcId", "")))
                       for page in pages for s in page.get("Subnets", [])}
        missing_fix = ("{zone} has no default subnet (no default VPC in " + region + "?): set `subnet_ids` to "
                       "subnets of your VPC, one per zone")
    found_groups: dict[str, set[str]] = {}
    rows = {}
    for zone in zones:
        if zone not in subnets:
            rows[zone] = _fail("network", zone, missing_fix.format(zone=zone))
            continue
        subnet, vpc = subnets[zone]
        groups = provider.config.security_groups(region, vpc)
        if vpc not in found_groups:
            found_groups[vpc] = _groups_in_vpc(ec2, groups, vpc)
        missing = [g for g in groups if g not in found_groups[vpc]]
        if missing:
            rows[zone] = _fail("network", zone, f"security group(s) {', '.join(missing)} are not in VPC {vpc} of "
                                                f"subnet {subnet}: set security_group_ids ({vpc}: [sg-...])")
        else:
            rows[zone] = _ok("network", zone, f"{subnet} in {vpc}" + (f", groups {', '.join(groups)}" if groups
                                                                       else ", the VPC's default group"))
    return rows


def _groups_in_vpc(ec2: Any, groups: list[str], vpc: str) -> set[str]:
    if not groups:
        return set()
    with translated():
        answer = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": groups}])
    return {str(g["GroupId"]) for g in answer.get("SecurityGroups", []) if not vpc or g.get("VpcId") == vpc}


def dry_run_row(provider: AWSProvider, region: str, zone: str, shapes: dict[str, TypeShape],
                zones_by_type: dict[str, list[str]], api_url: str) -> PreflightRow:
    """RunInstances(DryRun=True) with the launcher's own request for the smallest GPU type of the zone, as Spot."""
    shape = min((s for t, s in shapes.items() if zone in zones_by_type.get(t, [])),
                key=lambda s: (s.vcpus, s.instance_type))
    offer = Offer(cloud=NAME, region=region, zone=zone, instance_type=shape.instance_type, gpu_model=shape.gpu_model,
                  gpu_count=shape.gpu_count, vcpus=shape.vcpus, memory_gb=shape.memory_gb, spot=True,
                  price_per_hour=0.0, price_fetched_at=datetime.now(UTC), gpu_memory_gb=shape.gpu_memory_gb)
    what = f"{shape.instance_type} spot"
    try:
        request = provider.run_request(preflight_spec(offer, api_url))
        with translated():
            answer = provider.clients.client("ec2", region).run_instances(**request, DryRun=True)
    except ProviderError as exc:
        if exc.raw_code == "DryRunOperation":
            return _ok("dry-run launch", zone, f"{what}: the launch request would succeed")
        return _fail("dry-run launch", zone, f"EC2 refuses a {what} launch in {zone}: {type(exc).__name__}: {exc}")
    # An EC2-compatible endpoint that ignores DryRun has just launched: take it back at once.
    launched = [str(i["InstanceId"]) for i in answer.get("Instances", [])]
    if launched:
        with translated():
            provider.clients.client("ec2", region).terminate_instances(InstanceIds=launched)
    return _fail("dry-run launch", zone, f"the endpoint ignored DryRun and launched {', '.join(launched) or 'nothing'} "
                                         "(terminated again): it cannot be preflighted")
