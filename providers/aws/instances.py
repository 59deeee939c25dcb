"""Describe, list and terminate EC2 instances in one region, in batches, never erroring on unknown ids.

Cost grows with N / batch size: describe sends up to 1000 ids per call; list pages with
MaxResults; terminate sends up to 1000 ids per call. An id EC2 does not know (gone for an hour,
from another region, or malformed) is filtered out, not surfaced: reconcile asks about ids it
recorded long ago, and terminate must be safe to repeat.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from botocore import exceptions as bex

from providers.aws.errors import NOT_FOUND_CODES, SDK_ERRORS, classify, error_code, translated
from providers.aws.session import ClientFactory
from providers.base import TAG_CLUSTER, InstanceInfo, InstanceState

BATCH = 1000  # EC2's limit of ids per DescribeInstances / TerminateInstances call
_FILTER_BATCH = 200  # values per filter on the fallback path
_ID = re.compile(r"^i-[0-9a-f]{8}([0-9a-f]{9})?$")
PREEMPTED_REASON = "Server.SpotInstanceTermination"
LIVE_STATES = ["pending", "running", "stopping", "stopped"]

_STATES = {
    "pending": InstanceState.PENDING,
    "running": InstanceState.RUNNING,
    "shutting-down": InstanceState.STOPPING,  # still billed until terminated
    "stopping": InstanceState.STOPPING,
    "stopped": InstanceState.STOPPED,
    "terminated": InstanceState.TERMINATED,
}

PriceLookup = Callable[[str, str, str, bool], float]  # (region, zone, type, spot) -> USD/hour


def is_instance_id(value: str) -> bool:
    return bool(_ID.match(value))


def to_info(raw: dict[str, Any], region: str, price: PriceLookup) -> InstanceInfo:
    """One DescribeInstances entry in normalised form."""
    zone = raw.get("Placement", {}).get("AvailabilityZone", "")
    spot = raw.get("InstanceLifecycle") == "spot"
    reason = str((raw.get("StateReason") or {}).get("Code", ""))
    return InstanceInfo(
        id=raw["InstanceId"], uid=raw["InstanceId"], provider="aws", region=region, zone=zone,
        instance_type=raw["InstanceType"],
        spot=spot, state=_STATES.get(raw.get("State", {}).get("Name", ""), InstanceState.PENDING),
        price_per_hour=price(region, zone, raw["InstanceType"], spot), launched_at=raw.get("LaunchTime"),
        tags={t["Key"]: t["Value"] for t in raw.get("Tags", [])},
        preempted=reason == PREEMPTED_REASON, state_reason=reason,
    )


def _instances(pages: Any) -> list[dict[str, Any]]:
    return [i for page in pages for r in page.get("Reservations", []) for i in r.get("Instances", [])]


def describe_raw(clients: ClientFactory, region: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Instances of `region` among `ids`; unknown and malformed ids are dropped."""
    ec2 = clients.client("ec2", region)
    wanted = [i for i in dict.fromkeys(ids) if is_instance_id(i)]
    found: list[dict[str, Any]] = []
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        try:
            # Without MaxResults AWS answers all ids at once; follow NextToken anyway, as endpoints may page.
            found.extend(_instances(ec2.get_paginator("describe_instances").paginate(InstanceIds=batch)))
        except bex.ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise classify(exc) from exc
            # Some ids are unknown here: a filter never errors on them (slower, only on this path).
            found.extend(_by_filter(ec2, batch))
        except SDK_ERRORS as exc:
            raise classify(exc) from exc
    return found


def _by_filter(ec2: Any, ids: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with translated():
        for start in range(0, len(ids), _FILTER_BATCH):
            chunk = [{"Name": "instance-id", "Values": ids[start : start + _FILTER_BATCH]}]
            found.extend(_instances(ec2.get_paginator("describe_instances").paginate(Filters=chunk)))
    return found


def list_raw(
    clients: ClientFactory, region: str, tag_filters: dict[str, str], *, page_size: int, live_only: bool = True
) -> list[dict[str, Any]]:
    """Instances carrying every tag in `tag_filters`, paging by `page_size` (terminated ones excluded)."""
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tag_filters.items()]
    if live_only:
        filters.append({"Name": "instance-state-name", "Values": LIVE_STATES})
    paginator = clients.client("ec2", region).get_paginator("describe_instances")
    with translated():
        return _instances(paginator.paginate(Filters=filters, PaginationConfig={"PageSize": page_size}))


def list_cluster(clients: ClientFactory, region: str, cluster_id: str, *, page_size: int) -> list[dict[str, Any]]:
    return list_raw(clients, region, {TAG_CLUSTER: cluster_id}, page_size=page_size)


def terminate_ids(clients: ClientFactory, region: str, ids: Sequence[str]) -> list[str]:
    """Terminate the ids this region knows; returns those it asked EC2 to terminate."""
    ec2 = clients.client("ec2", region)
    wanted = [i for i in dict.fromkeys(ids) if is_instance_id(i)]
    done: list[str] = []
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        try:
            ec2.terminate_instances(InstanceIds=batch)
            done.extend(batch)
            continue
        except bex.ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise classify(exc) from exc
        except SDK_ERRORS as exc:
            raise classify(exc) from exc
        # One unknown id fails the whole call: retry with the ids this region knows and has not ended.
        known = [i["InstanceId"] for i in _by_filter(ec2, batch) if i["State"]["Name"] != "terminated"]
        if known:
            with translated():
                ec2.terminate_instances(InstanceIds=known)
            done.extend(known)
    return done
