"""The AWS provider: spot and on-demand GPU capacity through boto3.

Modules, one job each: `config` (the strict config section), `session` (clients with retries and
timeouts), `errors` (code -> taxonomy table), `gpus` (canonical GPU names), `offers` (types x
zones x live spot prices), `pricing` (on-demand prices with a built-in fallback), `advisor`
(Spot Instance Advisor priors), `scores` (spot placement scores), `launch` (the run_instances
request), `instances` (describe / list / terminate in batches), `interruptions` (EventBridge ->
SQS notices), `provider` (the Provider protocol, wiring the rest).

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
    from providers.aws.provider import AWSProvider

__all__ = ["AWSProvider", "PLUGIN"]

__getattr__ = lazy_exports(__name__, "provider", "AWSProvider")


def _notice_watcher(arg: str) -> NoticeWatcher | None:
    """ARG, when given, is another metadata address (tests point it at fake servers)."""
    from providers.aws.notices import AwsImdsNotice

    return AwsImdsNotice(arg) if arg else AwsImdsNotice()


def _s3store(bucket: str, prefix: str, **options: Any) -> ObjectStore:
    from providers.aws.objectstore import S3Store

    return S3Store(bucket, prefix, **options)


def _bucket_region(bucket: str, provider: Any) -> str:
    """S3's GetBucketLocation, through the configured AWS provider (its credentials) when there is one."""
    if provider is not None and hasattr(provider, "bucket_region"):
        return str(provider.bucket_region(bucket))
    from providers.aws.storage import bucket_region_default

    return bucket_region_default(bucket)


def _catalog_row_filter(gpu_info: str, arch: str) -> str | None:
    from providers.aws.gpus import catalog_unlaunchable

    return catalog_unlaunchable(gpu_info, arch)


_EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer"
_S3 = "https://aws.amazon.com/s3/pricing/ (Data Transfer tab)"
_AS_OF = "list price as of 2026-12-01"

PLUGIN = CloudPlugin(
    name="aws",
    provider="providers.aws.provider:AWSProvider",
    notice_watcher=_notice_watcher,
    storage_schemes={"s3": _s3store},
    storage_extra="aws",
    vms_csv="generic",
    catalog_row_filter=_catalog_row_filter,
    grid_carbon=Path(__file__).resolve().parent / "grid_carbon.json",
    egress={  # USD per GB leaving an S3 bucket
        "same_region": Figure(0.0, _S3, _AS_OF, note="S3 to any AWS service in the bucket's region is free"),
        "cross_region": Figure(0.02, _EC2, _AS_OF, note="to another AWS region (US and EU regions)"),
        "internet": Figure(0.09, _EC2, _AS_OF, note="to the internet, first 10 TB/month"),
    },
    bucket_schemes={"s3": "s3"},
    bucket_region=_bucket_region,
    identity="providers.aws.identity",
    remote_instances=True,
    skypilot_name="aws",
)
