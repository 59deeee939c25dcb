"""The `aws` section of the Spotwise configuration, parsed strictly.

Strict because a misspelt key (``subnet_id`` for ``subnet_ids``) would otherwise launch into the
default VPC without a word. Values that differ per region (image, security groups, key pair)
accept either one value for every region or a ``{region: value}`` mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from providers.errors import InvalidRequest

# Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04): CUDA drivers preinstalled.
DEFAULT_AMI_PARAMETER = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"

PerRegion = str | dict[str, str] | None


@dataclass(frozen=True)
class AWSConfig:
    regions: tuple[str, ...] = ("us-east-1",)
    endpoint_url: str | None = None  # moto, LocalStack, an EC2-compatible cloud; boto3 also reads AWS_ENDPOINT_URL
    profile: str | None = None  # a named profile of the standard credential chain
    ami: PerRegion = None  # overrides the SSM parameter
    ami_ssm_parameter: str = DEFAULT_AMI_PARAMETER
    # An arm64 image with NVIDIA drivers: only with it are arm64 GPU types (g5g) offered and launched.
    ami_arm64: PerRegion = None
    # Subnet ids: a list, or a mapping whose values are ids or lists of ids (`{zone: id}`, `{region: [ids]}`).
    # EC2 says which zone and VPC each is in; only those zones are offered.
    subnet_ids: tuple[str, ...] | dict[str, str | list[str]] = ()
    # One list for every region, or a mapping keyed by region or by VPC id (a VPC's key wins).
    security_group_ids: tuple[str, ...] | dict[str, list[str]] = ()
    key_name: PerRegion = None
    iam_instance_profile: str | None = None  # name or ARN
    max_attempts: int = 5  # botocore attempts per call, first included
    retry_mode: str = "standard"  # or "adaptive" (client-side rate limiting)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_workers: int = 8  # regions queried at once
    page_size: int = 1000  # MaxResults for describe_instances pages
    use_pricing_api: bool = True
    pricing_region: str = "us-east-1"
    advisor_file: Path | None = None  # Spot Instance Advisor feed (spot-advisor-data.json)
    placement_scores: bool = False
    service_quotas: bool = True  # leave out types above the account's vCPU quota (servicequotas:GetServiceQuota)
    interruption_queue: str = "spotwise-interruptions"
    interruption_rule: str = "spotwise-interruptions"
    instance_families: tuple[str, ...] = ("g*", "p*")  # where AWS keeps its GPU types
    # The 12-digit account the instances run in: when set, the daemon also checks the `accountId` of an agent's
    # instance identity document in the bootstrap exchange (docs/security.md)
    account_id: str = ""
    # {region or "default": PEM text or path}: AWS's public RSA certificates for instance identity signatures
    # (read by the daemon, not the adapter; docs/clouds/aws.md)
    identity_certificates: dict[str, str] | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any], *, home: Path) -> AWSConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidRequest(
                f"unknown aws config keys {unknown}; valid keys: {', '.join(sorted(known))}", provider="aws"
            )
        values = dict(raw)
        if isinstance(values.get("regions"), str):
            values["regions"] = [values["regions"]]
        for key in ("regions", "instance_families"):
            if key in values:
                values[key] = tuple(values[key])
        for key in ("security_group_ids", "subnet_ids"):
            if isinstance(values.get(key), str):
                values[key] = [values[key]]
            if isinstance(values.get(key), list | tuple):
                values[key] = tuple(values[key])
        if values.get("advisor_file"):
            path = Path(values["advisor_file"]).expanduser()
            values["advisor_file"] = path if path.is_absolute() else home / path
        config = cls(**values)
        if not config.regions:
            raise InvalidRequest("aws config: `regions` must name at least one region", provider="aws")
        if config.retry_mode not in ("standard", "adaptive"):
            raise InvalidRequest("aws config: retry_mode must be 'standard' or 'adaptive'", provider="aws")
        return config

    def for_region(self, value: PerRegion, region: str) -> str | None:
        """Resolve a per-region setting."""
        if isinstance(value, dict):
            return value.get(region)
        return value

    def subnet_list(self) -> list[str]:
        """Every configured subnet id, sorted and once (the mapping's keys only help the reader)."""
        raw = self.subnet_ids
        values = list(raw.values()) if isinstance(raw, dict) else list(raw)
        ids: set[str] = set()
        for value in values:
            ids.update([value] if isinstance(value, str) else value)
        return sorted(ids)

    def security_groups(self, region: str, vpc_id: str | None = None) -> list[str]:
        """The groups for a launch: a group belongs to one VPC, so a per-VPC entry wins over the region's."""
        groups = self.security_group_ids
        if isinstance(groups, dict):
            if vpc_id and vpc_id in groups:
                return list(groups[vpc_id])
            return list(groups.get(region, []))
        return list(groups)
