"""Compute routes of the fake ARM: virtual machines, their instance view and paged list, OS disks,
and the async-operation endpoint that PUT/DELETE answers point at (where AllocationFailed arrives)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from tests.providers.azure import fake_arm_data as data
from tests.providers.azure import fake_arm_rules as rules
from tests.providers.azure.fake_arm_state import Routes, not_found, paged


class ComputeRoutes(Routes):
    """Mixed into `FakeArm`; called with its lock held."""

    def _vm(self, method: str, p: dict, q: dict, payload: Any, base: str, path: str) -> tuple[int, dict, Any]:
        name, vms = p["name"], self.state.vms
        if method == "GET":
            if name not in vms:
                return not_found("Microsoft.Compute/virtualMachines", name)
            return 200, {}, _vm_json(vms[name], expand=q.get("$expand") == "instanceView")
        if method == "DELETE":
            vm = vms.pop(name, None)
            if vm is None:
                return 204, {}, None
            if vm["_state"] == "Failed":  # ARM holds the NIC of a failed create for that VM a while
                until = time.monotonic() + self.state.nic_reservation_seconds
                for nic in _nic_names(vm):
                    self.state.nic_reserved[nic] = (until, path)
            os_disk = vm["properties"]["storageProfile"]["osDisk"]
            if os_disk.get("deleteOption") == "Delete":
                self.state.disks.pop(os_disk["name"], None)
            return 202, self._operation(base, "Succeeded"), None
        if method == "PUT":
            if name in vms:  # an update: idempotent, no second VM
                vms[name]["tags"] = payload.get("tags", {})
                return 200, {}, _vm_json(vms[name])
            size = payload["properties"].get("hardwareProfile", {}).get("vmSize", "")
            price = data.PRICES.get((payload.get("location", ""), size))
            refused = rules.linux_authentication(payload["properties"]) or rules.spot_request(
                payload["properties"], payload.get("location", ""), price[1] if price else None,
                size not in self.state.spot_incapable,
            )
            location = payload.get("location", "")
            usage = rules.vcpu_usage(self.state.vms.values(), location, self.state.quota_limits, data.SIZES,
                                     data.FAMILIES, data.DEFAULT_QUOTA)
            refused = refused or rules.quota(payload["properties"], location, usage,
                                             data.SIZES.get(size, (0, 0, 0))[0], data.FAMILIES.get(size, ""))
            nic_ids = _nic_names(payload)
            for nic in nic_ids:
                refused = refused or rules.nic_reserved(nic, self.state.nic_reserved, time.monotonic())
            if refused is not None:
                return refused
            if any(n not in self.state.nics for n in nic_ids):
                return 400, {}, {"error": {"code": "InvalidResourceReference", "message": "NIC not found"}}
            vm = {
                **payload,
                "name": name,
                "id": path,
                "type": "Microsoft.Compute/virtualMachines",
                "_power": None,
                "_state": "Creating",
            }
            vm["properties"] = {
                **payload["properties"],
                "vmId": str(uuid.uuid4()),
                "timeCreated": datetime.now(UTC).isoformat(),
            }
            self.state.custom_data[name] = str(vm["properties"]["osProfile"].get("customData", ""))
            vm["properties"]["osProfile"] = {
                k: v for k, v in vm["properties"]["osProfile"].items() if k != "customData"
            }
            vms[name] = vm
            failure = self.state.allocation_failures.pop(0) if self.state.allocation_failures else None
            on_done = ("Failed", failure) if failure else ("Succeeded", None)
            return 201, self._operation(base, *on_done, vm=name), _vm_json(vm)
        return 405, {}, None

    def _op_status(self, method: str, p: dict, *_: Any) -> tuple[int, dict, Any]:
        op_id = p["op"]
        op = self.state.operations.get(op_id)
        if op is None:
            return 404, {}, {"error": {"code": "NotFound", "message": "no such operation"}}
        if op["polls"] > 0:
            op["polls"] -= 1
            return 200, {}, {"name": op_id, "status": "InProgress"}
        vm = self.state.vms.get(op["vm"] or "")
        if op["outcome"] == "Failed":
            if vm is not None:
                vm["_state"] = "Failed"
            message = f"Allocation failed ({op['code']}). Please try another size or location."
            return (
                200,
                {},
                {"name": op_id, "status": "Failed", "error": {"code": op["code"], "message": message}},
            )
        if vm is not None:
            vm["_state"], vm["_power"] = "Succeeded", vm["_power"] or "running"
            os_disk = vm["properties"]["storageProfile"]["osDisk"]
            self.state.disks[os_disk["name"]] = {
                "name": os_disk["name"],
                "tags": {},
                "location": vm["location"],
            }
        return 200, {}, {"name": op_id, "status": "Succeeded"}

    def _vm_view(self, method: str, p: dict, *_: Any) -> tuple[int, dict, Any]:
        vm = self.state.vms.get(p["name"])
        if vm is None:
            return not_found("Microsoft.Compute/virtualMachines", p["name"])
        return 200, {}, _instance_view(vm)

    def _vm_list(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        names = sorted(self.state.vms)
        start, size = int(q.get("$skiptoken", "0")), self.state.vm_page_size
        page = [
            _vm_json(self.state.vms[n], expand=q.get("$expand") == "instanceView")
            for n in names[start : start + size]
        ]
        result: dict[str, Any] = {"value": page}
        if start + size < len(names):
            result["nextLink"] = f"{base}{path}?{urlencode({**q, '$skiptoken': start + size})}"
        return 200, {}, result

    def _disk_list(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        rg = path.rsplit("/providers/", 1)[0]
        items = [_disk_json(f"{rg}/providers/Microsoft.Compute/disks/{n}", n, d)
                 for n, d in sorted(self.state.disks.items())]
        return 200, {}, paged(items, q, self.state.vm_page_size, base, path)

    def _disk(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        name, disks = p["name"], self.state.disks
        if method == "DELETE":
            return (
                (202, self._operation(base, "Succeeded"), None) if disks.pop(name, None) else (204, {}, None)
            )
        if name not in disks:
            return not_found("Microsoft.Compute/disks", name)
        if method == "PATCH":
            disks[name]["tags"] = payload.get("tags", disks[name]["tags"])
        return 200, {}, _disk_json(path, name, disks[name])


def _disk_json(path: str, name: str, disk: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": path,
        "name": name,
        "location": disk["location"],
        "tags": disk["tags"],
        "properties": {"provisioningState": "Succeeded", "diskState": "Attached"},
    }


def _nic_names(vm: dict[str, Any]) -> list[str]:
    return [n["id"].rsplit("/", 1)[-1] for n in vm["properties"]["networkProfile"]["networkInterfaces"]]


def _instance_view(vm: dict[str, Any]) -> dict[str, Any]:
    statuses = [{"code": f"ProvisioningState/{vm['_state'].lower()}", "level": "Info"}]
    if vm["_power"]:
        statuses.append({"code": f"PowerState/{vm['_power']}", "level": "Info"})
    return {"computerName": vm["name"], "statuses": statuses}


def _vm_json(vm: dict[str, Any], *, expand: bool = False) -> dict[str, Any]:
    out = {k: v for k, v in vm.items() if not k.startswith("_")}
    out["properties"] = {**vm["properties"], "provisioningState": vm["_state"]}
    if expand:
        out["properties"]["instanceView"] = _instance_view(vm)
    return out

