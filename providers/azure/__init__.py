"""The `azure` provider: Spot VMs through azure-mgmt-compute / azure-mgmt-network.

Module map: config (the config section), clients (SDK client factory), calls (classified retries),
errors (code table), offers (sizes, zones, GPU names), pricing (Retail Prices API + fallback),
launch (names and request bodies), instances (VM -> InstanceInfo, eviction). This class wires them to
the Provider protocol and translates; it decides nothing about placement.

This module only declares the cloud (`PLUGIN`, read by providers/plugin.py); the provider class lives in
`provider.py` and is imported on first use, so reading the declaration (as the agent does on an instance)
imports no cloud SDK.
It never imports `orchestrator` or another cloud's package; the daemon reaches it through providers/registry.py by
name, and imports one of its modules directly only for a fact that only this cloud has.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from providers.notice import NoticeWatcher
from providers.objectstore import ObjectStore
from providers.plugin import CloudPlugin, Figure, lazy_exports

if TYPE_CHECKING:
    from providers.azure.provider import AzureConfig, AzureProvider

__all__ = ["AzureConfig", "AzureProvider", "PLUGIN"]

__getattr__ = lazy_exports(__name__, "provider", "AzureProvider", "AzureConfig")


def _notice_watcher(arg: str) -> NoticeWatcher | None:
    """ARG, when given, is another metadata address (tests point it at fake servers)."""
    from providers.azure.notices import AzureScheduledEvents

    return AzureScheduledEvents(arg) if arg else AzureScheduledEvents()


def _azureblobstore(bucket: str, prefix: str, **options: Any) -> ObjectStore:
    from providers.azure.objectstore import AzureBlobStore

    return AzureBlobStore(bucket, prefix, **options)


_BANDWIDTH = "https://azure.microsoft.com/en-us/pricing/details/bandwidth/"
_AS_OF = "list price as of 2026-12-01"

PLUGIN = CloudPlugin(
    name="azure",
    provider="providers.azure.provider:AzureProvider",
    notice_watcher=_notice_watcher,
    storage_schemes={"az": _azureblobstore, "abfs": _azureblobstore, "abfss": _azureblobstore},
    storage_extra="azure",
    vms_csv="azure",
    grid_carbon=Path(__file__).resolve().parent / "grid_carbon.json",
    egress={  # USD per GB leaving a Blob Storage container
        "same_region": Figure(0.0, _BANDWIDTH, _AS_OF, note="within one region is free"),
        "cross_region": Figure(0.02, _BANDWIDTH, _AS_OF, note="inter-region within North America or Europe"),
        "internet": Figure(0.087, _BANDWIDTH, _AS_OF,
                           note="Microsoft premium network to the internet, 100 GB-10 TB/month"),
    },
    bucket_schemes={"az": "az", "abfs": "az", "abfss": "az"},  # no API lookup: the settings say the region
    identity="providers.azure.identity",
    remote_instances=True,
    skypilot_name="azure",
)
