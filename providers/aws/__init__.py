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

from typing import TYPE_CHECKING, Any

from providers.notice import NoticeWatcher
from providers.objectstore import ObjectStore
from providers.plugin import CloudPlugin, lazy_exports

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


PLUGIN = CloudPlugin(
    name="aws",
    provider="providers.aws.provider:AWSProvider",
    notice_watcher=_notice_watcher,
    storage_schemes={"s3": _s3store},
    storage_extra="aws",
    vms_csv="generic",
)
