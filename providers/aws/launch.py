"""Building the run_instances request for one LaunchSpec (pure) and resolving its image.

Pure so that it is tested without a server, and deterministic so that a launch re-issued after
a crash is byte-identical: EC2 answers a reused ClientToken with different parameters by
IdempotentParameterMismatch.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from providers.aws.config import AWSConfig
from providers.aws.errors import translated
from providers.aws.network import Subnet
from providers.aws.session import ClientFactory
from providers.base import LaunchSpec
from providers.bootstrap import render_startup_script
from providers.errors import InvalidRequest

# Our own marker of the idempotency key, so a launch can be found again even on EC2-compatible
# endpoints (and moto) that ignore ClientToken.
TAG_LAUNCH_KEY = "spotwise-launch-key"
_CLIENT_TOKEN_MAX = 64


def client_token(idempotency_key: str) -> str:
    """EC2 allows 64 ASCII characters; longer or non-ASCII keys are hashed (stable across restarts)."""
    if len(idempotency_key) <= _CLIENT_TOKEN_MAX and idempotency_key.isascii():
        return idempotency_key
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def all_tags(spec: LaunchSpec) -> dict[str, str]:
    return {**spec.tags, TAG_LAUNCH_KEY: client_token(spec.idempotency_key)}


def format_max_price(price: float) -> str:
    """EC2 takes MaxPrice as a decimal string; 5 decimals is finer than any spot price step."""
    return f"{price:.5f}".rstrip("0").rstrip(".")


def build_run_request(
    spec: LaunchSpec, config: AWSConfig, image_id: str, subnet: Subnet | None = None, root_device: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for ec2.run_instances; `subnet` None launches into the default VPC. A job that sizes its
    disk (`spec.disk_gb`) gets its root volume (the AMI's `root_device`) at that size: gp3, deleted with the
    instance (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/block-device-mapping-concepts.html)."""
    offer = spec.offer
    region = offer.region
    tags = _tag_list(all_tags(spec))
    request: dict[str, Any] = {
        "ImageId": image_id,
        "InstanceType": offer.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "ClientToken": client_token(spec.idempotency_key),
        "Placement": {"AvailabilityZone": offer.zone},
        "UserData": render_startup_script(spec.bootstrap, notice_source="aws"),
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": tags},
            {"ResourceType": "volume", "Tags": tags},
        ],
        # IMDSv2 only (the agent polls the spot notice through it); hop limit 2 lets containers reach it.
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"},
        "InstanceInitiatedShutdownBehavior": "terminate",
    }
    if offer.spot:
        spot_options: dict[str, Any] = {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}
        if spec.max_price_per_hour is not None:
            spot_options["MaxPrice"] = format_max_price(spec.max_price_per_hour)
        request["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": spot_options}
    if spec.disk_gb is not None:
        if not root_device:
            raise InvalidRequest(f"image {image_id} names no root device to size", provider="aws")
        request["BlockDeviceMappings"] = [{"DeviceName": root_device, "Ebs": {
            "VolumeSize": spec.disk_gb, "VolumeType": "gp3", "DeleteOnTermination": True}}]
    if subnet is not None:
        request["SubnetId"] = subnet.id
    groups = config.security_groups(region, subnet.vpc_id if subnet else None)
    if groups:
        request["SecurityGroupIds"] = groups
    key_name = config.for_region(config.key_name, region)
    if key_name:
        request["KeyName"] = key_name
    if config.iam_instance_profile:
        profile = config.iam_instance_profile
        request["IamInstanceProfile"] = {"Arn": profile} if profile.startswith("arn:") else {"Name": profile}
    return request


class ImageResolver:
    """Region -> AMI id: configured, or the SSM public parameter of the Deep Learning AMI (cached)."""

    def __init__(self, clients: ClientFactory, config: AWSConfig) -> None:
        self.clients = clients
        self.config = config
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}

    def image_for(self, region: str, architecture: str = "x86_64") -> str:
        """The AMI for a launch; arm64 types take `ami_arm64` (they are only offered when it is set)."""
        if architecture == "arm64":
            arm = self.config.for_region(self.config.ami_arm64, region)
            if not arm:
                raise InvalidRequest(f"no arm64 AMI for {region}: set `ami_arm64` in the aws config",
                                     provider="aws")
            return arm
        configured = self.config.for_region(self.config.ami, region)
        if configured:
            return configured
        with self._lock:
            if region in self._cache:
                return self._cache[region]
        with translated():
            value = self.clients.client("ssm", region).get_parameter(Name=self.config.ami_ssm_parameter)
        image = str(value.get("Parameter", {}).get("Value", ""))
        if not image.startswith("ami-"):
            raise InvalidRequest(
                f"SSM parameter {self.config.ami_ssm_parameter} in {region} holds no AMI id; set `ami` in the "
                "aws config", provider="aws",
            )
        with self._lock:
            self._cache[region] = image
        return image

    def root_device(self, region: str, image_id: str) -> str:
        """The AMI's root device name (/dev/sda1 on Ubuntu, /dev/xvda on Amazon Linux), to size it; cached."""
        key = f"{region}/{image_id}/root"
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        with translated():
            images = self.clients.client("ec2", region).describe_images(ImageIds=[image_id]).get("Images", [])
        device = str(images[0].get("RootDeviceName") or "") if images else ""
        if not device:
            raise InvalidRequest(f"image {image_id} in {region} names no root device; the job's disk size cannot "
                                 "be set on it", provider="aws")
        with self._lock:
            self._cache[key] = device
        return device
