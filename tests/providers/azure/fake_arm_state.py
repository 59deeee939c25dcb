"""The fake ARM's in-memory state and the small pieces every route module shares.

Split out of `fake_arm.py` so each route module (compute, network, catalog) reads one state
type and one error shape without importing the server.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

STATIC_TOKEN = "fake-arm-token"
IDENTITY_SECRET = "fake-identity-secret"


@dataclass
class Injected:
    method: str
    path_contains: str
    status: int
    code: str
    message: str
    headers: dict[str, str]
    times: int


@dataclass
class FakeArmState:
    """Everything the fake knows; guarded by `lock`."""

    vms: dict[str, dict[str, Any]] = field(default_factory=dict)
    nics: dict[str, dict[str, Any]] = field(default_factory=dict)
    disks: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    injected: list[Injected] = field(default_factory=list)
    allocation_failures: list[str] = field(default_factory=list)
    tokens: set[str] = field(default_factory=lambda: {STATIC_TOKEN})
    vm_page_size: int = 50
    price_page_size: int = 100
    polls_per_operation: int = 1
    prices_down: bool = False
    nic_reserved: dict[str, tuple[float, str]] = field(default_factory=dict)  # NIC -> (until, VM id)
    nic_reservation_seconds: int = 180
    # VM name -> the customData it was created with: ARM never returns it (so the VMs above drop it), but the VM
    # itself reads it at boot; the tests read it here as the VM would
    custom_data: dict[str, str] = field(default_factory=dict)
    quota_limits: dict[tuple[str, str], int] = field(default_factory=dict)  # (location, usage name) -> vCPUs
    spot_incapable: set[str] = field(default_factory=set)  # sizes whose SKU no longer says LowPriorityCapable
    # marketplace images that exist, (publisher, offer, sku) lower-cased: the adapter's default DSVM image
    images: set[tuple[str, str, str]] = field(default_factory=lambda: {("microsoft-dsvm", "ubuntu-hpc", "2204")})
    # subnet ids (lower-cased) a GET finds: the test VNets' subnets (fake_arm_data.SUBNETS)
    subnets: set[str] = field(default_factory=set)


def paged(items: list[dict[str, Any]], q: dict, size: int, base: str, path: str) -> dict[str, Any]:
    """One page of a collection GET, with ARM's nextLink (a $skiptoken) while more remain."""
    from urllib.parse import urlencode

    start = int(q.get("$skiptoken", "0"))
    result: dict[str, Any] = {"value": items[start : start + size]}
    if start + size < len(items):
        result["nextLink"] = f"{base}{path}?{urlencode({**q, '$skiptoken': start + size})}"
    return result


def not_found(kind: str, name: str) -> tuple[int, dict, Any]:
    return (
        404,
        {},
        {"error": {"code": "ResourceNotFound", "message": f"The Resource '{kind}/{name}' was not found."}},
    )


class Routes:
    """Base of the route mixins: the state they serve and the long-running operations that compute
    and network answers (PUT/DELETE 201/202 + Azure-AsyncOperation) both hand out."""

    state: FakeArmState

    def _operation(self, base: str, outcome: str, code: str | None = None, vm: str | None = None) -> dict:
        op_id = uuid.uuid4().hex
        self.state.operations[op_id] = {
            "polls": self.state.polls_per_operation,
            "outcome": outcome,
            "code": code,
            "vm": vm,
        }
        return {"Azure-AsyncOperation": f"{base}/fake/operations/{op_id}", "Retry-After": "0"}
