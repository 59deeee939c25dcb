"""A fake Azure Resource Manager: real HTTP on 127.0.0.1, state in memory, knobs for failures.

No ARM emulator exists, so this serves what the adapter's real SDK clients call: virtual machines
(PUT 201 + Azure-AsyncOperation, GET with instance view, paged list, DELETE 202), the async
operation endpoint, network interfaces, disks, vmSizes, resource SKUs, the Retail Prices API and a
managed-identity token endpoint (App Service style: IDENTITY_ENDPOINT + IDENTITY_HEADER).
Knobs: `fail_next` (any status/code, e.g. 409 SkuNotAvailable, 429 + Retry-After, 401),
`fail_allocation` (the next create fails while polling, e.g. AllocationFailed), `evict`.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.providers.azure import fake_arm_data as data

STATIC_TOKEN = "fake-arm-token"
IDENTITY_SECRET = "fake-identity-secret"
_RG = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers"
ROUTES: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern + r"$", re.IGNORECASE))
    for name, pattern in (
        ("vm_view", _RG + r"/Microsoft\.Compute/virtualMachines/(?P<name>[^/]+)/instanceView"),
        ("vm", _RG + r"/Microsoft\.Compute/virtualMachines/(?P<name>[^/]+)"),
        ("vm_list", _RG + r"/Microsoft\.Compute/virtualMachines"),
        ("nic", _RG + r"/Microsoft\.Network/networkInterfaces/(?P<name>[^/]+)"),
        ("disk", _RG + r"/Microsoft\.Compute/disks/(?P<name>[^/]+)"),
        ("sizes", r"/subscriptions/[^/]+/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/vmSizes"),
        ("skus", r"/subscriptions/[^/]+/providers/Microsoft\.Compute/skus"),
        ("op_status", r"/fake/operations/(?P<op>[^/]+)"),
        ("prices", r"/api/retail/prices"),
        ("token", r"/msi/token"),
    )
]


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


class FakeArm:
    """Start with `FakeArm().start()`; `url` is the ARM base URL; `reset()` between tests."""

    def __init__(self, tls: ssl.SSLContext | None = None, *, identity: FakeArm | None = None) -> None:
        """`identity`: another fake whose managed-identity endpoint issues tokens this one accepts
        (App Service serves its identity endpoint over plain http on localhost, ARM over TLS)."""
        self.state = FakeArmState()
        self.identity = identity
        self.lock = threading.RLock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeArm:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.state = FakeArmState()

    # -- knobs -----------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_contains: str,
        status: int,
        code: str,
        message: str = "",
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` matching requests get this error response instead of being served."""
        with self.lock:
            self.state.injected.append(
                Injected(method, path_contains, status, code, message or code, headers or {}, times)
            )

    def fail_allocation(self, code: str = "AllocationFailed", times: int = 1) -> None:
        """The next `times` VM creates are accepted (201) and then fail in the async operation."""
        with self.lock:
            self.state.allocation_failures.extend([code] * times)

    def evict(self, name: str, *, policy: str = "Delete") -> None:
        """Spot eviction. Delete policy: VM and OS disk vanish, the NIC stays (as in Azure).
        Deallocate policy: the VM stays, deallocated."""
        with self.lock:
            vm = self.state.vms[name]
            if policy == "Delete":
                del self.state.vms[name]
                self.state.disks.pop(vm["properties"]["storageProfile"]["osDisk"]["name"], None)
            else:
                vm["_power"] = "deallocated"

    def count(self, method: str, path_contains: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.state.requests if m == method and path_contains in p)

    # -- request handling (called from handler threads) -----------------------------------------

    def handle(self, method: str, url: str, headers: Any, body: bytes, base: str) -> tuple[int, dict, Any]:
        parts = urlsplit(url)
        path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.state.requests.append((method, path))
            for rule in self.state.injected:
                if rule.method == method and rule.path_contains in path and rule.times > 0:
                    rule.times -= 1
                    return rule.status, rule.headers, {"error": {"code": rule.code, "message": rule.message}}
            for name, pattern in ROUTES:
                match = pattern.match(path)
                if match:
                    if name not in ("prices", "token") and not self._authorized(headers):
                        return (
                            401,
                            {},
                            {"error": {"code": "InvalidAuthenticationToken", "message": "no token"}},
                        )
                    payload = json.loads(body) if body else None
                    return getattr(self, f"_{name}")(method, match.groupdict(), query, payload, base, path)
        return 404, {}, {"error": {"code": "NotFound", "message": f"no route for {path}"}}

    def _authorized(self, headers: Any) -> bool:
        auth = headers.get("Authorization", "")
        issued = self.identity.state.tokens if self.identity is not None else set()
        return auth.startswith("Bearer ") and (auth[7:] in self.state.tokens or auth[7:] in issued)

    def _vm(self, method: str, p: dict, q: dict, payload: Any, base: str, path: str) -> tuple[int, dict, Any]:
        name, vms = p["name"], self.state.vms
        if method == "GET":
            if name not in vms:
                return _not_found("Microsoft.Compute/virtualMachines", name)
            return 200, {}, _vm_json(vms[name], expand=q.get("$expand") == "instanceView")
        if method == "DELETE":
            vm = vms.pop(name, None)
            if vm is None:
                return 204, {}, None
            os_disk = vm["properties"]["storageProfile"]["osDisk"]
            if os_disk.get("deleteOption") == "Delete":
                self.state.disks.pop(os_disk["name"], None)
            return 202, self._operation(base, "Succeeded"), None
        if method == "PUT":
            if name in vms:  # an update: idempotent, no second VM
                vms[name]["tags"] = payload.get("tags", {})
                return 200, {}, _vm_json(vms[name])
            nic_ids = [
                n["id"].rsplit("/", 1)[-1]
                for n in payload["properties"]["networkProfile"]["networkInterfaces"]
            ]
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
            vm["properties"]["osProfile"] = {
                k: v for k, v in vm["properties"]["osProfile"].items() if k != "customData"
            }
            vms[name] = vm
            failure = self.state.allocation_failures.pop(0) if self.state.allocation_failures else None
            on_done = ("Failed", failure) if failure else ("Succeeded", None)
            return 201, self._operation(base, *on_done, vm=name), _vm_json(vm)
        return 405, {}, None

    def _operation(self, base: str, outcome: str, code: str | None = None, vm: str | None = None) -> dict:
        op_id = uuid.uuid4().hex
        self.state.operations[op_id] = {
            "polls": self.state.polls_per_operation,
            "outcome": outcome,
            "code": code,
            "vm": vm,
        }
        return {"Azure-AsyncOperation": f"{base}/fake/operations/{op_id}", "Retry-After": "0"}

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
            return _not_found("Microsoft.Compute/virtualMachines", p["name"])
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

    def _nic(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        name, nics = p["name"], self.state.nics
        if method == "GET":
            return (200, {}, nics[name]) if name in nics else _not_found("networkInterfaces", name)
        if method == "DELETE":
            if any(
                n["id"].rsplit("/", 1)[-1] == name
                for vm in self.state.vms.values()
                for n in vm["properties"]["networkProfile"]["networkInterfaces"]
            ):
                return 400, {}, {"error": {"code": "NicInUse", "message": f"{name} is attached to a VM"}}
            return (
                (202, self._operation(base, "Succeeded"), None) if nics.pop(name, None) else (204, {}, None)
            )
        if method == "PUT":
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

    def _disk(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        name, disks = p["name"], self.state.disks
        if method == "DELETE":
            return (
                (202, self._operation(base, "Succeeded"), None) if disks.pop(name, None) else (204, {}, None)
            )
        if name not in disks:
            return _not_found("Microsoft.Compute/disks", name)
        if method == "PATCH":
            disks[name]["tags"] = payload.get("tags", disks[name]["tags"])
        disk = disks[name]
        return (
            200,
            {},
            {
                "id": path,
                "name": name,
                "location": disk["location"],
                "tags": disk["tags"],
                "properties": {"provisioningState": "Succeeded", "diskState": "Attached"},
            },
        )

    def _sizes(self, method: str, p: dict, *_: Any) -> tuple[int, dict, Any]:
        return 200, {}, {"value": data.vm_sizes(p["loc"])}

    def _skus(self, method: str, p: dict, q: dict, *_: Any) -> tuple[int, dict, Any]:
        match = re.search(r"location eq '([^']+)'", q.get("$filter", ""))
        locations = [match.group(1)] if match else list(data.LOCATION_ZONES)
        return (
            200,
            {},
            {
                "value": [
                    s for loc in locations if loc in data.LOCATION_ZONES for s in data.resource_skus(loc)
                ]
            },
        )

    def _prices(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        if self.state.prices_down:
            return 503, {}, {"error": {"code": "ServiceUnavailable", "message": "down"}}
        match = re.search(r"armRegionName eq '([^']+)'", q.get("$filter", ""))
        items = data.retail_items(match.group(1)) if match else []
        skip, size = int(q.get("$skip", "0")), self.state.price_page_size
        next_link = None
        if skip + size < len(items):
            next_link = f"{base}{path}?{urlencode({**q, '$skip': skip + size})}"
        return (
            200,
            {},
            {
                "BillingCurrency": "USD",
                "Items": items[skip : skip + size],
                "NextPageLink": next_link,
                "Count": len(items[skip : skip + size]),
            },
        )

    def _token(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        raise AssertionError("handled in the handler, which can see the identity header")


def _not_found(kind: str, name: str) -> tuple[int, dict, Any]:
    return (
        404,
        {},
        {"error": {"code": "ResourceNotFound", "message": f"The Resource '{kind}/{name}' was not found."}},
    )


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


class _Handler(BaseHTTPRequestHandler):
    fake: FakeArm
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # without it each request costs ~40 ms (Nagle + delayed ACK)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        base = f"{self.fake.url.split('://')[0]}://{self.headers.get('Host')}"
        if urlsplit(self.path).path.rstrip("/").lower() == "/msi/token":
            status, headers, payload = self._token()
        else:
            status, headers, payload = self.fake.handle(self.command, self.path, self.headers, body, base)
        raw = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _token(self) -> tuple[int, dict, Any]:
        """App Service managed identity: GET ?api-version=2019-08-01&resource=... + X-IDENTITY-HEADER."""
        if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_SECRET:
            return 401, {}, {"error": "invalid_identity_header"}
        token = "mi-" + uuid.uuid4().hex
        with self.fake.lock:
            self.fake.state.tokens.add(token)
            self.fake.state.requests.append(("GET", "/msi/token"))
        resource = parse_qs(urlsplit(self.path).query).get("resource", [""])[0]
        expires = int(datetime.now(UTC).timestamp()) + 3600
        return (
            200,
            {},
            {"access_token": token, "expires_on": str(expires), "resource": resource, "token_type": "Bearer"},
        )

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST = _serve  # noqa: N815
