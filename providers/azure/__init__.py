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

from typing import TYPE_CHECKING, Any

from providers.notice import NoticeWatcher
from providers.objectstore import ObjectStore
from providers.plugin import CloudPlugin, lazy_exports

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


PLUGIN = CloudPlugin(
    name="azure",
    provider="providers.azure.provider:AzureProvider",
    notice_watcher=_notice_watcher,
    storage_schemes={"az": _azureblobstore, "abfs": _azureblobstore, "abfss": _azureblobstore},
    storage_extra="azure",
    vms_csv="azure",
)
