"""compute_v1.Instance -> InstanceInfo, and the id format the rest of Spotwise sees.

An instance id is "<zone>/<name>": GCE addresses instances by zone and name, so an id that
carries both lets describe/terminate go straight to the instance without a project-wide search.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from providers.base import InstanceInfo, InstanceState
from providers.gcp.labels import TAGS_METADATA_KEY, from_instance
from providers.gcp.launch import PRICE_METADATA_KEY
from providers.gcp.shapes import instance_type_name, region_of, tail

PREEMPTED_OPERATION = "compute.instances.preempted"

STATE_MAP: dict[str, InstanceState] = {
    "PROVISIONING": InstanceState.PENDING,
    "STAGING": InstanceState.PENDING,
    "REPAIRING": InstanceState.PENDING,
    "RUNNING": InstanceState.RUNNING,
    "STOPPING": InstanceState.STOPPING,
    "SUSPENDING": InstanceState.STOPPING,
    "SUSPENDED": InstanceState.STOPPED,
    "TERMINATED": InstanceState.TERMINATED,  # GCE's word for "stopped"; ours are deleted right after
}


def make_id(zone: str, name: str) -> str:
    return f"{zone}/{name}"


def parse_id(instance_id: str) -> tuple[str, str] | None:
    zone, sep, name = instance_id.partition("/")
    return (zone, name) if sep and zone and name and "/" not in name else None


def _metadata(instance: Any) -> dict[str, str]:
    return {item.key: item.value for item in instance.metadata.items} if instance.metadata else {}


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def to_info(instance: Any, *, preempted: bool = False) -> InstanceInfo:
    zone = tail(instance.zone)
    metadata = _metadata(instance)
    accelerator, count = "", 0
    if instance.guest_accelerators:
        accelerator = tail(instance.guest_accelerators[0].accelerator_type)
        count = instance.guest_accelerators[0].accelerator_count
    scheduling = instance.scheduling
    spot = scheduling.provisioning_model == "SPOT" or bool(scheduling.preemptible)
    try:
        price = float(metadata.get(PRICE_METADATA_KEY, "0"))
    except ValueError:
        price = 0.0
    return InstanceInfo(
        id=make_id(zone, instance.name),
        uid=str(instance.id) if instance.id else "",  # the numeric id the metadata server's identity token names
        provider="gcp",
        region=region_of(zone),
        zone=zone,
        instance_type=instance_type_name(tail(instance.machine_type), accelerator, count),
        spot=spot,
        state=STATE_MAP.get(instance.status, InstanceState.PENDING),
        price_per_hour=price,
        launched_at=_parse_time(instance.creation_timestamp),
        tags=from_instance(dict(instance.labels), metadata.get(TAGS_METADATA_KEY)),
        preempted=preempted,
        state_reason=PREEMPTED_OPERATION if preempted else instance.status,
    )


def gone(instance_id: str, zone: str, *, preempted: bool) -> InstanceInfo:
    """An instance GCE no longer knows: terminated (and preempted when an operation says so)."""
    return InstanceInfo(
        id=instance_id, provider="gcp", region=region_of(zone), zone=zone, instance_type="", spot=preempted,
        state=InstanceState.TERMINATED, price_per_hour=0.0, launched_at=None, preempted=preempted,
        state_reason=PREEMPTED_OPERATION if preempted else "NOT_FOUND",
    )
