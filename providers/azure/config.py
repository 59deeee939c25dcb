"""The `azure` section of the daemon config, parsed once and strictly.

Unknown keys are an error that lists the valid ones: a typo such as `resourcegroup` would otherwise
be ignored and surface much later as a confusing ARM 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from providers.azure.sshkey import resolve_public_key

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
    subnet_id: str = ""  # the launched NIC joins this subnet; required to launch
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
        values["ssh_public_key"] = resolve_public_key(str(values.get("ssh_public_key") or ""), home)
        return cls(**values)
