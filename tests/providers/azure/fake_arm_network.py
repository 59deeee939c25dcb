"""Network routes of the fake ARM: network interfaces (a NIC in use by a VM cannot be deleted)."""

from __future__ import annotations

import time
from typing import Any

from tests.providers.azure import fake_arm_data as data
from tests.providers.azure import fake_arm_rules as rules
from tests.providers.azure.fake_arm_state import Routes, not_found, paged


class NetworkRoutes(Routes):
    """Mixed into `FakeArm`; called with its lock held."""

    def _nic_list(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        items = [self.state.nics[n] for n in sorted(self.state.nics)]
        return 200, {}, paged(items, q, self.state.vm_page_size, base, path)

    def _subnet(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        """GET a subnet (https://learn.microsoft.com/en-us/rest/api/virtualnetwork/subnets/get): 404 when the
        VNet or the subnet does not exist."""
        if method != "GET":
            return 405, {}, None
        if path.lower() not in self.state.subnets:
            return not_found("virtualNetworks/subnets", f"{p['vnet']}/{p['name']}")
        return 200, {}, {"id": path, "name": p["name"], "type": "Microsoft.Network/virtualNetworks/subnets",
                         "properties": {"addressPrefix": "10.0.0.0/24", "provisioningState": "Succeeded"}}

    def _nic(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        name, nics = p["name"], self.state.nics
        if method == "GET":
            return (200, {}, nics[name]) if name in nics else not_found("networkInterfaces", name)
        if method == "DELETE":
            if any(
                n["id"].rsplit("/", 1)[-1] == name
                for vm in self.state.vms.values()
                for n in vm["properties"]["networkProfile"]["networkInterfaces"]
            ):
                return 400, {}, {"error": {"code": "NicInUse", "message": f"{name} is attached to a VM"}}
            refused = rules.nic_reserved(name, self.state.nic_reserved, time.monotonic())
            if refused is not None:
                return refused
            return (
                (202, self._operation(base, "Succeeded"), None) if nics.pop(name, None) else (204, {}, None)
            )
        if method == "PUT":
            refused = rules.nic_subnet(path, payload, data.SUBNETS)
            if refused is not None:
                return refused
            nic = {
                **payload,
                "name": name,
                "id": path,
                "type": "Microsoft.Network/networkInterfaces",
                "properties": {**payload.get("properties", {}), "provisioningState": "Succeeded"},
            }
            created = name not in nics
            nics[name] = nic
            return (201 if created else 200), {}, nic
        return 405, {}, None
