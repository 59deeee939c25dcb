"""Zone IDs (`use1-az1`) -> this account's zone names (`us-east-1b`), from DescribeAvailabilityZones.

Why: AWS maps zone names to physical zones per account, so the same name is a different place in
two accounts; published price lists (SkyPilot's vms.csv) and placement scores therefore name zones
by ID. EC2 launches take names (`Placement.AvailabilityZone`), and offers are keyed by name, so
every zone ID must be turned into this account's name before it becomes a pool or a launch.
"""

from __future__ import annotations

import re
import threading
import time

from providers.aws.errors import translated
from providers.aws.session import ClientFactory

# A zone ID: region short code, "-az", a number (use1-az1, apne1-az4, usw2-lax1-az1 for Local Zones).
ZONE_ID = re.compile(r"^[a-z]{2,4}\d+(-[a-z]+\d*)?-az\d+$")


def is_zone_id(zone: str) -> bool:
    return bool(ZONE_ID.match(zone))


class ZoneNames:
    """Region -> {zone ID: zone name} of this account (cached: the mapping never changes for an account)."""

    def __init__(self, clients: ClientFactory, *, ttl_s: float = 24 * 3600) -> None:
        self.clients = clients
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def of_region(self, region: str) -> dict[str, str]:
        with self._lock:
            cached = self._cache.get(region)
        if cached and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        with translated():
            answer = self.clients.client("ec2", region).describe_availability_zones()
        names = {str(z["ZoneId"]): str(z["ZoneName"]) for z in answer.get("AvailabilityZones", [])
                 if z.get("ZoneId") and z.get("ZoneName")}
        with self._lock:
            self._cache[region] = (time.monotonic(), names)
        return names

    def name_of(self, region: str, zone: str) -> str:
        """`zone` as a name: IDs are translated, names (and IDs this account does not have) are returned as is."""
        if not is_zone_id(zone):
            return zone
        return self.of_region(region).get(zone, zone)
