"""ARM virtual machines -> normalised InstanceInfo (state, price, eviction).

Power state lives in the instance view's statuses (`PowerState/running`, `ProvisioningState/...`),
which GET and list return only with `$expand=instanceView`. Eviction is recognised two ways:
- Delete policy (ours): the VM is gone but its NIC, which we keep on eviction (launch.py), is still
  there and we did not delete the VM ourselves -> TERMINATED, preempted.
- Deallocate policy (a VM made elsewhere, or a policy change): a Spot VM that is deallocated, which
  Spotwise never does itself -> STOPPED, preempted, with the status code as the reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from providers.azure.launch import PRICE_TAG
from providers.azure.offers import _get, zone_label
from providers.base import InstanceInfo, InstanceState

PROVIDER = "azure"

_POWER_STATES: dict[str, InstanceState] = {
    "starting": InstanceState.PENDING,
    "running": InstanceState.RUNNING,
    "stopping": InstanceState.STOPPING,
    "stopped": InstanceState.STOPPED,
    "deallocating": InstanceState.STOPPING,
    "deallocated": InstanceState.STOPPED,
}
_PROVISIONING_STATES: dict[str, InstanceState] = {
    "creating": InstanceState.PENDING,
    "updating": InstanceState.PENDING,
    "migrating": InstanceState.PENDING,
    "deleting": InstanceState.STOPPING,
    "failed": InstanceState.STOPPED,  # exists (holds its NIC) but will never run: reconcile cleans it
}


def _statuses(vm: Any) -> list[str]:
    view = _get(_get(vm, "properties", {}), "instance_view", {})
    return [str(_get(status, "code", "")) for status in _get(view, "statuses", [])]


def _state(vm: Any) -> tuple[InstanceState, str]:
    """(state, raw reason code) from power state, else provisioning state."""
    codes = _statuses(vm)
    for code in codes:
        if code.startswith("PowerState/"):
            value = code.split("/", 1)[1].lower()
            return _POWER_STATES.get(value, InstanceState.PENDING), code
    provisioning = str(_get(_get(vm, "properties", {}), "provisioning_state", "")).lower()
    for code in codes:
        if code.startswith("ProvisioningState/"):
            provisioning = code.split("/", 1)[1].split("/")[0].lower()
    return _PROVISIONING_STATES.get(provisioning, InstanceState.PENDING), f"ProvisioningState/{provisioning}"


def _eviction_reason(vm: Any, state: InstanceState, spot: bool) -> str:
    """The eviction reason code when this VM was evicted, else "" (see module docstring)."""
    if not spot or state is not InstanceState.STOPPED:
        return ""
    codes = _statuses(vm)
    for code in codes:
        if "evict" in code.lower() or "preempt" in code.lower():
            return code
    return "PowerState/deallocated" if "PowerState/deallocated" in codes else ""


def _price(tags: dict[str, str]) -> float:
    try:
        return float(tags.get(PRICE_TAG, "0"))
    except ValueError:
        return 0.0


def vm_to_info(vm: Any) -> InstanceInfo:
    """One ARM VM (SDK model or dict, with instance view) -> InstanceInfo."""
    props = _get(vm, "properties", {})
    tags = {str(k): str(v) for k, v in dict(_get(vm, "tags", {})).items()}
    location = str(_get(vm, "location", ""))
    zones = list(_get(vm, "zones", []))
    spot = str(_get(props, "priority", "Regular")).lower() == "spot"
    state, reason = _state(vm)
    eviction = _eviction_reason(vm, state, spot)
    created = _get(props, "time_created")
    return InstanceInfo(
        id=str(_get(vm, "name", "")),
        uid=str(_get(props, "vm_id", "") or _get(props, "vmId", "")),  # the vmId the attested document names
        provider=PROVIDER,
        region=location,
        zone=zone_label(location, str(zones[0]) if zones else None),
        instance_type=str(_get(_get(props, "hardware_profile", {}), "vm_size", "")),
        spot=spot,
        state=state,
        price_per_hour=_price(tags),
        launched_at=created if isinstance(created, datetime) else None,
        tags={k: v for k, v in tags.items() if k != PRICE_TAG},
        preempted=bool(eviction),
        state_reason=eviction or reason,
    )


def gone_info(name: str, nic: Any | None, *, deleted_by_us: bool) -> InstanceInfo:
    """A VM ARM no longer knows. Its surviving NIC (if any) still says where it ran and for whom."""
    tags = {str(k): str(v) for k, v in dict(_get(nic, "tags", {}) or {}).items()} if nic is not None else {}
    evicted = nic is not None and not deleted_by_us
    return InstanceInfo(
        id=name,
        provider=PROVIDER,
        region=str(_get(nic, "location", "")) if nic is not None else "",
        zone="",
        instance_type="",
        spot=evicted,
        state=InstanceState.TERMINATED,
        price_per_hour=0.0,
        launched_at=None,
        tags=tags,
        preempted=evicted,
        state_reason="Evicted (VM deleted, NIC left)" if evicted else "NotFound",
    )
