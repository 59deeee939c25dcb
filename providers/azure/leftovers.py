"""Resources a VM leaves behind in the resource group, and when ARM lets us delete them.

An Azure VM is three resources: the VM, its NIC and its OS disk. The NIC outlives the VM on purpose
after an eviction (launch.py: it tells "evicted" from "deleted by us"), a failed create leaves its
NIC reserved for the failed VM for 180 s (ARM answers `NicReservedForAnotherVm` to an early delete),
and a delete that fails half-way leaves the rest. None of that costs much, but NICs hold subnet
addresses and count against a subscription limit, so they must not pile up.

The adapter reports each such group as a TERMINATED instance in `list_managed` (named after its VM),
so the reconcile loop needs nothing new: an attempt whose VM is gone sees it gone (preempted when
evicted), and once no active attempt owns it, the orphan sweep terminates it, which deletes what is
left. A reserved NIC is held back from the listing until the reservation ARM named has passed.
Spotwise creates no public IPs or data disks, so there are none to sweep.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from providers.azure.launch import VM_PREFIX
from providers.azure.offers import _get
from providers.base import TAG_CLUSTER
from providers.errors import ProviderError

RESERVED_CODE = "NicReservedForAnotherVm"
DEFAULT_RESERVATION_SECONDS = 180.0
_SECONDS = re.compile(r"for (\d+) seconds", re.IGNORECASE)

_SUFFIXES = ("-nic", "-osdisk")


@dataclass(frozen=True)
class Leftover:
    """What one gone VM left: its NIC (the richer trace: tags, location) and/or its OS disk."""

    vm: str
    nic: Any | None
    disk: Any | None


def reserved_seconds(message: str) -> float:
    """How long ARM says a NIC stays reserved ("... for 180 seconds ..."), else its usual 180 s."""
    match = _SECONDS.search(message or "")
    return float(match.group(1)) if match else DEFAULT_RESERVATION_SECONDS


def _vm_of(resource_name: str) -> str | None:
    for suffix in _SUFFIXES:
        if resource_name.startswith(VM_PREFIX) and resource_name.endswith(suffix):
            return resource_name.removesuffix(suffix)
    return None


def find_leftovers(cluster_id: str, vm_names: set[str], nics: Iterable[Any], disks: Iterable[Any]) -> list[Leftover]:
    """NICs and disks tagged with the cluster whose VM (named in `vm_names`) no longer exists."""
    found: dict[str, dict[str, Any]] = {}
    for kind, resources in (("nic", nics), ("disk", disks)):
        for resource in resources:
            tags = dict(_get(resource, "tags", {}) or {})
            vm = _vm_of(str(_get(resource, "name", "")))
            if vm is None or vm in vm_names or tags.get(TAG_CLUSTER) != cluster_id:
                continue
            found.setdefault(vm, {})[kind] = resource
    return [Leftover(vm, parts.get("nic"), parts.get("disk")) for vm, parts in sorted(found.items())]


class NicReserved(ProviderError):
    """ARM refused a NIC delete for `seconds` more (`NicReservedForAnotherVm`). Not a TransientError
    on purpose: retrying within the call cannot succeed, so the adapter retries after `seconds`."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message, provider="azure", raw_code=RESERVED_CODE)
        self.seconds = seconds
