"""The `azure` section of the daemon config, parsed once and strictly.

Unknown keys are an error that lists the valid ones: a typo such as `resourcegroup` would otherwise
be ignored and surface much later as a confusing ARM 404.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from providers.azure.sshkey import resolve_public_key

log = logging.getLogger(__name__)

# Microsoft's Data Science VM (Ubuntu HPC) image ships the NVIDIA driver and CUDA, so a GPU job
# can start without a driver install; override `image` for a custom or gallery image.
DEFAULT_IMAGE: dict[str, str] = {
    "publisher": "microsoft-dsvm",
    "offer": "ubuntu-hpc",
    "sku": "2204",
    "version": "latest",
}
DEFAULT_BASE_URL = "https://management.azure.com"
DEFAULT_PRICES_URL = "https://prices.azure.com/api/retail/prices"


@dataclass(frozen=True)
class AzureConfig:
    """Everything the adapter needs; see docs for each key. Required: subscription and resource group."""

    subscription_id: str
    resource_group: str
    locations: tuple[str, ...] = ("eastus",)
    # location -> the subnet a NIC launched there joins (a subnet belongs to one region's VNet);
    # a location without one is not offered. A single id is accepted for a single location.
    subnet_id: dict[str, str] = field(default_factory=dict)
    base_url: str = DEFAULT_BASE_URL
    prices_url: str = DEFAULT_PRICES_URL
    polling_interval: float = 15.0
    image: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_IMAGE))
    admin_username: str = "spotwise"
    ssh_public_key: str = ""  # a key, a .pub path, or empty: generated under the daemon's home (sshkey.py)
    os_disk_gb: int = 128
    os_disk_type: str = "StandardSSD_LRS"
    catalog_path: str = ""  # SkyPilot-format vms.csv used when the Retail Prices API is unreachable
    price_ttl_seconds: float = 3600.0
    retry_attempts: int = 4
    connection_verify: str | bool = True  # CA bundle path for a private endpoint (or a test CA)
    currency: str = "USD"
    # CA (or intermediate) certificates, PEM text or paths, that attested documents' signers must chain to (read
    # by the daemon, not the adapter; docs/clouds/azure.md)
    identity_ca_certificates: tuple[str, ...] | str = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, home: Path | None = None) -> AzureConfig:
        """Validate a config mapping; the error message names the missing or unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"azure config: unknown keys {unknown}; valid keys: {sorted(known)}")
        missing = [key for key in ("subscription_id", "resource_group") if not raw.get(key)]
        if missing:
            raise ValueError(f"azure config: set {', '.join(missing)} (see docs/clouds/azure.md)")
        values = dict(raw)
        if "locations" in values:
            locations = values["locations"]
            values["locations"] = (locations,) if isinstance(locations, str) else tuple(locations)
        if values.get("catalog_path") and home is not None:
            values["catalog_path"] = str((home / str(values["catalog_path"])).expanduser())
        if "image" in values:
            image = dict(values["image"])
            if "id" not in image and not {"publisher", "offer", "sku"} <= set(image):
                raise ValueError("azure config: image needs either `id` or publisher, offer and sku")
            values["image"] = image
        given = values.get("locations")
        values["subnet_id"] = subnets_by_location(values.get("subnet_id"), given or cls.locations)
        if given is None and values["subnet_id"]:
            values["locations"] = tuple(values["subnet_id"])  # a map names the locations
        elif given is not None:
            stray = sorted(set(values["subnet_id"]) - set(given))
            if stray:
                raise ValueError(f"azure config: subnet_id names {stray}, which are not in locations {list(given)}")
            bare = [loc for loc in given if loc not in values["subnet_id"]]
            if bare and values["subnet_id"]:
                log.warning("azure: no subnet_id for %s; those locations are not offered", ", ".join(bare))
        values["ssh_public_key"] = resolve_public_key(str(values.get("ssh_public_key") or ""), home)
        return cls(**values)

    def subnet_for(self, location: str) -> str:
        """The subnet id NICs in `location` join, or "" when none is configured there."""
        return self.subnet_id.get(location, "")


def subnets_by_location(raw: Any, locations: tuple[str, ...]) -> dict[str, str]:
    """`subnet_id` as a map location -> subnet id. A single id is only unambiguous with one location:
    a subnet lives in one region's virtual network, and ARM refuses a NIC elsewhere."""
    if not raw:
        return {}
    if isinstance(raw, str):
        if len(locations) != 1:
            raise ValueError(
                f"azure config: subnet_id is one subnet, which lives in one region, but locations are "
                f"{list(locations)}; "
                "give a map of location to subnet id, e.g. subnet_id: {eastus: /subscriptions/.../subnets/a, "
                "westeurope: /subscriptions/.../subnets/b}"
            )
        raw = {locations[0]: raw}
    if not isinstance(raw, dict):
        raise ValueError("azure config: subnet_id must be a subnet id or a map of location to subnet id")
    subnets = {str(k): str(v) for k, v in raw.items()}
    for location, subnet in subnets.items():
        if not subnet.lower().startswith("/subscriptions/"):
            raise ValueError(
                f"azure config: subnet_id for {location} is {subnet!r}, not a subnet's ARM id "
                "(/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/VNET/subnets/NAME)"
            )
    return subnets
