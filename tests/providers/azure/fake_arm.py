"""A fake Azure Resource Manager: real HTTP on 127.0.0.1, state in memory, knobs for failures.

No ARM emulator exists, so this serves what the adapter's real SDK clients call: virtual machines
(PUT 201 + Azure-AsyncOperation, GET with instance view, paged list, DELETE 202), the async
operation endpoint, network interfaces, subnets (GET), disks, vmSizes, resource SKUs, marketplace image
versions, the Retail Prices API and a
managed-identity token endpoint (App Service style: IDENTITY_ENDPOINT + IDENTITY_HEADER).
Knobs: `fail_next` (any status/code, e.g. 409 SkuNotAvailable, 429 + Retry-After, 401),
`fail_allocation` (the next create fails while polling, e.g. AllocationFailed), `evict`,
`state.nic_reservation_seconds` and `expire_reservations` (a failed VM's NIC is reserved, as in ARM).
Routes live in fake_arm_compute (VMs, disks, operations), fake_arm_network (NICs) and
fake_arm_catalog (sizes, SKUs, prices); state in fake_arm_state.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.fake_arm_catalog import CatalogRoutes
from tests.providers.azure.fake_arm_compute import ComputeRoutes
from tests.providers.azure.fake_arm_network import NetworkRoutes
from tests.providers.azure.fake_arm_state import IDENTITY_SECRET, STATIC_TOKEN, FakeArmState, Injected

__all__ = ["IDENTITY_SECRET", "STATIC_TOKEN", "FakeArm", "FakeArmState"]

_RG = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers"
ROUTES: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern + r"$", re.IGNORECASE))
    for name, pattern in (
        ("vm_view", _RG + r"/Microsoft\.Compute/virtualMachines/(?P<name>[^/]+)/instanceView"),
        ("vm", _RG + r"/Microsoft\.Compute/virtualMachines/(?P<name>[^/]+)"),
        ("vm_list", _RG + r"/Microsoft\.Compute/virtualMachines"),
        ("subnet", _RG + r"/Microsoft\.Network/virtualNetworks/(?P<vnet>[^/]+)/subnets/(?P<name>[^/]+)"),
        ("nic", _RG + r"/Microsoft\.Network/networkInterfaces/(?P<name>[^/]+)"),
        ("nic_list", _RG + r"/Microsoft\.Network/networkInterfaces"),
        ("disk", _RG + r"/Microsoft\.Compute/disks/(?P<name>[^/]+)"),
        ("disk_list", _RG + r"/Microsoft\.Compute/disks"),
        ("sizes", r"/subscriptions/[^/]+/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/vmSizes"),
        ("skus", r"/subscriptions/[^/]+/providers/Microsoft\.Compute/skus"),
        ("usages", r"/subscriptions/[^/]+/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/usages"),
        ("image_versions", r"/subscriptions/[^/]+/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/publishers/"
                           r"(?P<publisher>[^/]+)/artifacttypes/vmimage/offers/(?P<offer>[^/]+)/skus/(?P<sku>[^/]+)"
                           r"/versions"),
        ("op_status", r"/fake/operations/(?P<op>[^/]+)"),
        ("prices", r"/api/retail/prices"),
        ("token", r"/msi/token"),
    )
]


class FakeArm(ComputeRoutes, NetworkRoutes, CatalogRoutes):
    """Start with `FakeArm().start()`; `url` is the ARM base URL; `reset()` between tests."""

    def __init__(self, tls: ssl.SSLContext | None = None, *, identity: FakeArm | None = None) -> None:
        """`identity`: another fake whose managed-identity endpoint issues tokens this one accepts
        (App Service serves its identity endpoint over plain http on localhost, ARM over TLS)."""
        self.state = FakeArmState(subnets={s.lower() for s in data.SUBNETS.values()})
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
            self.state = FakeArmState(subnets={s.lower() for s in data.SUBNETS.values()})

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

    def expire_reservations(self) -> None:
        """Let the NIC reservations that failed creates left run out (ARM's 180 s, without waiting)."""
        with self.lock:
            self.state.nic_reserved.clear()

    def leftovers(self) -> dict[str, list[str]]:
        """Every VM, NIC and disk the fake still holds (empty lists: nothing was left behind)."""
        with self.lock:
            return {"vms": sorted(self.state.vms), "nics": sorted(self.state.nics), "disks": sorted(self.state.disks)}

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

    def _token(
        self, method: str, p: dict, q: dict, payload: Any, base: str, path: str
    ) -> tuple[int, dict, Any]:
        raise AssertionError("handled in the handler, which can see the identity header")


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
