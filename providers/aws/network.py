"""Where the configured network lets an instance launch: subnet -> zone and VPC, from EC2 itself.

Why ask EC2 rather than trust the config: a subnet lives in exactly one zone and one VPC, and
only EC2 knows which. With `subnet_ids` set, a zone without a subnet cannot be launched into
(EC2 would fall back to the default VPC, or refuse with `VPCIdNotSpecified` where there is none,
and a security group of another VPC is refused), so offers are limited to the zones the subnets
cover. One `DescribeSubnets` per region, cached like the instance-type listing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from providers.aws.config import AWSConfig
from providers.aws.errors import translated
from providers.aws.session import ClientFactory


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    zone: str
    vpc_id: str


class SubnetMap:
    """Region -> {zone: the subnet to launch into}, for the configured `subnet_ids` (cached)."""

    def __init__(self, clients: ClientFactory, config: AWSConfig, *, ttl_s: float = 3600) -> None:
        self.clients = clients
        self.config = config
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, Subnet]]] = {}

    @property
    def restricted(self) -> bool:
        """True when subnets are configured: only their zones can be launched into."""
        return bool(self.config.subnet_list())

    def by_zone(self, region: str) -> dict[str, Subnet]:
        """zone -> subnet of this region; {} when none of the configured subnets is in it.

        A filter rather than `SubnetIds=`: ids of other regions then match nothing instead of failing
        the call with `InvalidSubnetID.NotFound`. Several subnets in one zone: the first by id, so a
        re-issued launch sends the same request."""
        wanted = self.config.subnet_list()
        if not wanted:
            return {}
        with self._lock:
            cached = self._cache.get(region)
        if cached and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        found: dict[str, Subnet] = {}
        paginator = self.clients.client("ec2", region).get_paginator("describe_subnets")
        with translated():
            for page in paginator.paginate(Filters=[{"Name": "subnet-id", "Values": wanted}]):
                for item in page.get("Subnets", []):
                    subnet = Subnet(str(item["SubnetId"]), str(item["AvailabilityZone"]), str(item.get("VpcId", "")))
                    if subnet.zone not in found or subnet.id < found[subnet.zone].id:
                        found[subnet.zone] = subnet
        with self._lock:
            self._cache[region] = (time.monotonic(), found)
        return found

    def subnet_for(self, region: str, zone: str) -> Subnet | None:
        """The subnet a launch in `zone` uses; None means the default VPC (no subnets configured)."""
        if not self.restricted:
            return None
        return self.by_zone(region).get(zone)
