"""The `gcp` provider: Spot (and standard) GPU VMs on Compute Engine through google-cloud-compute.

Module map: settings (config), clients (the one client factory), errors (code table), shapes +
offers + pricing + catalog + discovery (what can run where, at what price), launch (the insert
request), operations (waiting), instances (normalising what GCE returns), labels (tags <-> labels).
Every SDK call goes through `errors.guarded` and the shared retry helper, so callers only ever see
the Spotwise error taxonomy.

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
    from providers.gcp.provider import GCPProvider

__all__ = ["GCPProvider", "PLUGIN"]

__getattr__ = lazy_exports(__name__, "provider", "GCPProvider")


def _notice_watcher(arg: str) -> NoticeWatcher | None:
    """ARG, when given, is another metadata address (tests point it at fake servers)."""
    from providers.gcp.notices import GcpMetadataNotice

    return GcpMetadataNotice(arg) if arg else GcpMetadataNotice()


def _gcsstore(bucket: str, prefix: str, **options: Any) -> ObjectStore:
    from providers.gcp.objectstore import GCSStore

    return GCSStore(bucket, prefix, **options)


_STORAGE = "https://cloud.google.com/storage/pricing#network-egress"
_VPC = "https://cloud.google.com/vpc/network-pricing#internet_egress"
_AS_OF = "list price as of 2026-12-01"

PLUGIN = CloudPlugin(
    name="gcp",
    provider="providers.gcp.provider:GCPProvider",
    notice_watcher=_notice_watcher,
    storage_schemes={"gs": _gcsstore, "gcs": _gcsstore},
    storage_extra="gcp",
    vms_csv="gcp",
    grid_carbon=Path(__file__).resolve().parent / "grid_carbon.json",
    egress={  # USD per GB leaving a Cloud Storage bucket
        "same_region": Figure(0.0, _STORAGE, _AS_OF, note="within one region is free"),
        "cross_region": Figure(0.02, _STORAGE, _AS_OF, note="between regions within North America or Europe"),
        "internet": Figure(0.12, _VPC, _AS_OF, note="premium tier to the internet, first 1 TB/month"),
    },
    bucket_schemes={"gs": "gs", "gcs": "gs"},  # no API lookup: a bucket's region comes from the settings
    identity="providers.gcp.identity",
    remote_instances=True,
    skypilot_name="gcp",
)
