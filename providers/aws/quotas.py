"""The account's EC2 vCPU quotas per GPU family and market (Service Quotas), read before placement.

Why: a new account's GPU quotas are often 0, and a spot quota is counted in vCPUs per family group
per region. A type with more vCPUs than the quota can never launch there, so offering it only sends
placement into a `MaxSpotInstanceCountExceeded` / `VcpuLimitExceeded` wall, one launch at a time.
Known walls are left out of the offers instead; the launch-time quota error (region scope) still
covers what the limit alone cannot see (vCPUs already used by other instances of the account).

Codes (Service Quotas, service `ec2`): spot "All G and VT Spot Instance Requests" L-3819A6DF, "All P Spot
Instance Requests" L-7212CCBC; on-demand "Running On-Demand G and VT instances" L-DB2E81BA, "Running
On-Demand P instances" L-417A185B ("All Standard ... Spot Instance Requests", L-34B43A08, covers no GPU type).
A quota that cannot be read (no `servicequotas:GetServiceQuota` permission, an EC2-compatible endpoint
without the service) filters nothing: an unknown quota is not a zero quota.
"""

from __future__ import annotations

import logging
import threading
import time

from providers.aws.errors import translated
from providers.aws.session import ClientFactory
from providers.errors import ProviderError

log = logging.getLogger(__name__)

# (family group, spot) -> quota code. The group is the type's family letter: g (G, Gr, VT), p (P).
QUOTA_CODES: dict[tuple[str, bool], str] = {
    ("g", True): "L-3819A6DF",
    ("g", False): "L-DB2E81BA",
    ("p", True): "L-7212CCBC",
    ("p", False): "L-417A185B",
}

QUOTA_NAMES: dict[str, str] = {
    "L-3819A6DF": "All G and VT Spot Instance Requests",
    "L-DB2E81BA": "Running On-Demand G and VT instances",
    "L-7212CCBC": "All P Spot Instance Requests",
    "L-417A185B": "Running On-Demand P instances",
}


def family_group(instance_type: str) -> str:
    """The quota group of a type: "g" for g5.xlarge, gr6.4xlarge and vt1.3xlarge, "p" for p4d.24xlarge."""
    first = instance_type[:1].lower()
    return "g" if first == "v" else first


class QuotaBook:
    """Region -> {(group, spot): vCPU limit}, read once per `ttl_s` (with the instance-type listing)."""

    def __init__(self, clients: ClientFactory, *, enabled: bool = True, ttl_s: float = 3600) -> None:
        self.clients = clients
        self.enabled = enabled
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[tuple[str, bool], float]]] = {}

    def limits(self, region: str) -> dict[tuple[str, bool], float]:
        """The readable limits of the region; a quota missing here is unknown."""
        if not self.enabled:
            return {}
        with self._lock:
            cached = self._cache.get(region)
        if cached and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        limits: dict[tuple[str, bool], float] = {}
        client = self.clients.client("service-quotas", region)
        for key, code in QUOTA_CODES.items():
            try:
                with translated():
                    answer = client.get_service_quota(ServiceCode="ec2", QuotaCode=code)
            except ProviderError as exc:
                log.info("aws quota %s in %s unknown: %s", code, region, exc)
                continue
            value = (answer.get("Quota") or {}).get("Value")
            if value is not None:
                limits[key] = float(value)
        with self._lock:
            self._cache[region] = (time.monotonic(), limits)
        return limits

    def allows(self, limits: dict[tuple[str, bool], float], instance_type: str, vcpus: float, spot: bool) -> bool:
        """False when one instance of this type alone exceeds the known vCPU quota of its group and market."""
        limit = limits.get((family_group(instance_type), spot))
        return limit is None or vcpus <= limit
