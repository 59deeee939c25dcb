"""The `gcp` provider's configuration section, parsed strictly.

Unknown keys are rejected with the list of valid ones: a typo such as `zone:` instead of `zones:`
would otherwise silently widen a launch to every zone of the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from providers.errors import InvalidRequest
from providers.gcp.identity_keys import GOOGLE_JWKS_URL
from providers.gcp.network import configured_regions, parse_subnetworks

# Deep Learning VM images ship NVIDIA drivers and CUDA, so the startup script only installs the agent.
DEFAULT_IMAGE_FAMILY = "common-cu124-debian-11"
DEFAULT_IMAGE_PROJECT = "deeplearning-platform-release"
DEFAULT_DISK_TYPE = "pd-balanced"
# Compute Engine's boot-disk types (https://cloud.google.com/compute/docs/disks#disk-types); a typo fails at start,
# not at every launch. Which machine series take which type is GCE's to say at launch (N1 has no Hyperdisk).
DISK_TYPES = ("pd-balanced", "pd-ssd", "pd-standard", "pd-extreme", "hyperdisk-balanced", "hyperdisk-extreme",
              "hyperdisk-throughput", "hyperdisk-ml")


@dataclass(frozen=True, slots=True)
class GCPSettings:
    """Everything the adapter reads from config; defaults suit a real project with ADC."""

    project: str | None = None  # None: the project Application Default Credentials name
    zones: tuple[str, ...] = ()  # explicit zones win over regions
    regions: tuple[str, ...] = ()  # empty with no zones: every UP zone of the project
    endpoint: str | None = None  # Compute API endpoint override, e.g. "http://127.0.0.1:8080"
    billing_endpoint: str | None = None  # Cloud Billing Catalog endpoint override
    use_billing: bool = True  # False: price from the fallback catalog only
    credentials: str = "adc"  # "adc" | "anonymous" | path to a service-account JSON key
    image_family: str = DEFAULT_IMAGE_FAMILY
    image_project: str = DEFAULT_IMAGE_PROJECT
    network: str = "global/networks/default"
    # region -> subnetwork (providers/gcp/network.py); config: a map, or one value when one region is configured
    subnetwork: dict[str, str] = field(default_factory=dict)
    service_account: str | None = None  # instance identity; None: no service account attached
    public_ip: bool = True
    disk_size_gb: int = 100
    # boot disk type: GCE's default, pd-standard, is slow for images and checkpoints, and G2/A3 refuse it
    disk_type: str = DEFAULT_DISK_TYPE
    catalog_path: str | None = None  # a SkyPilot-format vms.csv used when billing is unreachable
    page_size: int = 500  # maxResults per listing page (GCE caps it at 500)
    operation_timeout_s: float = 300.0  # how long launch/terminate wait for their operation
    request_timeout_s: float = 60.0  # per HTTP call
    cache_ttl_s: float = 3600.0  # machine shapes and prices change slowly
    interruption_lookback_s: float = 3600.0  # ignore preemption operations older than this
    install_command: str | None = None  # override the agent install line of the startup script
    # Google's keys for instance identity tokens (read by the daemon, not the adapter); "": fields only
    identity_jwks_url: str = GOOGLE_JWKS_URL

    @classmethod
    def parse(cls, config: dict[str, Any]) -> GCPSettings:
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - valid)
        if unknown:
            raise InvalidRequest(
                f"unknown gcp config key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(valid))}",
                provider="gcp",
            )
        values = dict(config)
        for key in ("zones", "regions"):
            raw = values.get(key, ())
            values[key] = (raw,) if isinstance(raw, str) else tuple(raw)
        if values.get("page_size") is not None and not 1 <= int(values["page_size"]) <= 500:
            raise InvalidRequest("gcp page_size must be between 1 and 500", provider="gcp")
        disk_type = values.get("disk_type", DEFAULT_DISK_TYPE)
        if disk_type not in DISK_TYPES:
            raise InvalidRequest(f"gcp disk_type must be one of {', '.join(DISK_TYPES)} (a type name: the zone is "
                                 f"each VM's own), not {disk_type!r}", provider="gcp")
        values["subnetwork"] = parse_subnetworks(values.get("subnetwork"),
                                                 configured_regions(values["zones"], values["regions"]))
        return cls(**values)
