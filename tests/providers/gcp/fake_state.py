"""In-memory state of the fake Compute Engine: resources, operations, validation and knobs.

Validation follows GCE where a wrong request would otherwise pass silently: instance names
(RFC 1035), request ids (UUIDs), labels, scheduling (termination action only for SPOT; GPUs need
onHostMaintenance TERMINATE), machine and accelerator types per zone, subnetworks of the instance's
region, boot disk types (zones/ZONE/diskTypes/TYPE; no pd-standard on G2/A3), list filters. The HTTP
side lives in fake_gce.py.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from tests.providers.gcp.fake_billing import build_skus

BASE = "https://www.googleapis.com/compute/v1"
NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")
CLAUSE_RE = re.compile(r'^\(?\s*([A-Za-z][\w.-]*)\s*(=|eq|!=|ne)\s*(?:"([^"]*)"|([^\s"()]+))\s*\)?$')
FILTER_FIELDS = ("name", "status", "operationType", "zone")
SUBNETWORK_RE = re.compile(r"^(?:(?:https://www\.googleapis\.com/compute/v1/)?projects/[^/]+/)?regions/([^/]+)/"
                           r"subnetworks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
DISK_TYPE_RE = re.compile(r"^(?:(?:https://www\.googleapis\.com/compute/v1/)?projects/[^/]+/)?zones/([^/]+)/"
                          r"diskTypes/([^/]+)$")
DISK_TYPES = {"pd-standard", "pd-balanced", "pd-ssd", "pd-extreme", "hyperdisk-balanced", "hyperdisk-extreme",
              "hyperdisk-throughput", "hyperdisk-ml"}
NO_PD_STANDARD = {"g2", "a3"}  # machine series without Standard Persistent Disk
STATUS_TEXT = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 503: "Service Unavailable"}


class HTTPError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def _mt(name: str, cpus: int, memory_mb: int, accelerator: str = "", count: int = 0) -> dict[str, Any]:
    mt: dict[str, Any] = {"kind": "compute#machineType", "name": name, "guestCpus": cpus, "memoryMb": memory_mb}
    if accelerator:
        mt["accelerators"] = [{"guestAcceleratorType": accelerator, "guestAcceleratorCount": count}]
    return mt


N1 = [_mt(f"n1-standard-{n}", n, 3840 * n) for n in (1, 8, 16, 32, 64)]
A2 = [_mt("a2-highgpu-1g", 12, 87040, "nvidia-tesla-a100", 1), _mt("a2-ultragpu-1g", 12, 174080, "nvidia-a100-80gb", 1)]
A3 = [_mt("a3-highgpu-8g", 208, 1916928, "nvidia-h100-80gb", 8)]
G2 = [_mt("g2-standard-4", 4, 16384, "nvidia-l4", 1), _mt("g2-standard-8", 8, 32768, "nvidia-l4", 1)]
E2 = [_mt("e2-standard-4", 4, 16384)]
DEFAULT_ZONES: dict[str, tuple[list[dict[str, Any]], dict[str, int]]] = {
    "us-central1-a": (N1 + A2 + A3 + G2 + E2, {"nvidia-tesla-t4": 4, "nvidia-tesla-v100": 8, "nvidia-l4": 8}),
    "us-central1-b": (N1 + G2, {"nvidia-tesla-t4": 4, "nvidia-l4": 8}),
    "europe-west4-a": (N1 + A2, {"nvidia-tesla-t4": 4, "nvidia-tesla-v100": 8}),
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_filter(text: str) -> list[tuple[str, str, str]]:
    """GCE list filter `a = "x" AND b != y` as clauses; anything else is a 400, as on GCE."""
    if not text:
        return []
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip()):
        match = CLAUSE_RE.match(part.strip())
        if not match:
            raise HTTPError(400, "invalid", f"Invalid list filter expression '{text}'.")
        field, op, quoted, bare = match.groups()
        if not field.startswith("labels.") and field not in FILTER_FIELDS:
            raise HTTPError(400, "invalid", f"Invalid field name '{field}' in filter.")
        clauses.append((field, op, quoted if quoted is not None else bare))
    return clauses


def matches(resource: dict[str, Any], clauses: list[tuple[str, str, str]]) -> bool:
    for field, op, value in clauses:
        if field.startswith("labels."):
            actual = resource.get("labels", {}).get(field[len("labels."):])
        else:
            actual = resource.get(field)
        if (actual == value) != (op in ("=", "eq")):
            return False
    return True


class FakeGCE:
    """In-memory Compute Engine for one project; see the module docstring."""

    def __init__(self, project: str = "spotwise-test", zones: dict[str, Any] | None = None) -> None:
        self.project = project
        self.zone_catalog = zones or DEFAULT_ZONES
        self.skus = build_skus(sorted({z.rsplit("-", 1)[0] for z in self.zone_catalog}))
        self.lock = threading.RLock()
        self.wait_cap_s = 2.0  # GCE's own wait returns after ~2 minutes; tests need less
        self._ids = itertools.count(4_000_000_000_000_000_000)
        self.reset()

    # -- knobs -------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.instances: dict[tuple[str, str], dict[str, Any]] = {}
            self.operations: dict[tuple[str, str], dict[str, Any]] = {}
            self.pending: dict[tuple[str, str], tuple[float, Any]] = {}
            self.request_ids: dict[str, tuple[str, str]] = {}
            self.insert_failures: list[tuple[str, str, int]] = []
            self.operation_delay_s = 0.0
            self.billing_down = False
            self.billing_page_cap = 500
            self.requests: Counter[str] = Counter()
            self.inserts: list[dict[str, Any]] = []
            self.disk_types: list[str] = []  # each boot disk's type as GCE read it (the default spelt out)
            # region -> metric -> (limit, usage), as regions.get lists them; a region not here lists no GPU quota
            self.quotas: dict[str, dict[str, tuple[float, float]]] = {}
            self.region_errors: dict[str, int] = {}  # region -> HTTP status regions.get answers instead
            # (project, family) of the images that exist: the adapter's default Deep Learning VM family
            self.images: set[tuple[str, str]] = {("deeplearning-platform-release", "common-cu124-debian-11")}
            # the auto-mode `default` network, with a `default` subnetwork in every region, as a new project has
            # (https://cloud.google.com/vpc/docs/vpc#default-network)
            self.networks: set[str] = {"default"}
            self.subnetworks: set[tuple[str, str]] = {(r, "default") for r in
                                                      {z.rsplit("-", 1)[0] for z in self.zone_catalog}}

    def fail_next_insert(self, code: str = "ZONE_RESOURCE_POOL_EXHAUSTED", *, status: int = 503,
                         as_operation: bool = False) -> None:
        with self.lock:
            self.insert_failures.append(("operation" if as_operation else "http", code, status))

    def preempt(self, zone: str, name: str, *, delete: bool = False) -> None:
        """What GCE does to a Spot VM: TERMINATED (or gone) plus a compute.instances.preempted operation."""
        with self.lock:
            instance = self.instances[(zone, name)]
            instance["status"] = "TERMINATED"
            self._operation(zone, "compute.instances.preempted", instance, delay=0)
            if delete:
                del self.instances[(zone, name)]

    # -- state -------------------------------------------------------------------------------

    def _advance(self) -> None:
        now = time.monotonic()
        for key, (ready_at, effect) in list(self.pending.items()):
            if ready_at <= now:
                del self.pending[key]
                if effect:
                    effect()
                op = self.operations[key]
                op.update(status="DONE", progress=100, endTime=_now())

    def _operation(self, zone: str, op_type: str, instance: dict[str, Any], *, delay: float,
                   effect: Any = None, error: tuple[str, int] | None = None) -> dict[str, Any]:
        name = f"operation-{uuid.uuid4().hex[:16]}"
        op: dict[str, Any] = {
            "kind": "compute#operation", "id": str(next(self._ids)), "name": name, "operationType": op_type,
            "zone": f"{BASE}/projects/{self.project}/zones/{zone}", "status": "RUNNING", "progress": 0,
            "targetLink": instance["selfLink"], "targetId": instance["id"], "insertTime": _now(),
            "selfLink": f"{BASE}/projects/{self.project}/zones/{zone}/operations/{name}",
        }
        if error:
            op["error"] = {"errors": [{"code": error[0], "message": f"fake: {error[0]} in {zone}"}]}
            op["httpErrorStatusCode"] = error[1]
            op["httpErrorMessage"] = STATUS_TEXT.get(error[1], "ERROR").upper()
        self.operations[(zone, name)] = op
        self.pending[(zone, name)] = (time.monotonic() + delay, effect)
        self._advance()
        return op

    def _zone(self, zone: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
        if zone not in self.zone_catalog:
            raise HTTPError(404, "notFound", f"The resource 'projects/{self.project}/zones/{zone}' was not found")
        return self.zone_catalog[zone]

    def insert(self, zone: str, body: dict[str, Any], request_id: str | None) -> dict[str, Any]:
        machine_types, accelerators = self._zone(zone)
        if request_id is not None:
            try:
                uuid.UUID(request_id)
            except ValueError:
                raise HTTPError(400, "invalid", "Invalid value for field 'requestId'.") from None
            if request_id in self.request_ids:
                return self.operations[self.request_ids[request_id]]
        self.inserts.append(body)
        name = body.get("name", "")
        if not NAME_RE.match(name):
            raise HTTPError(400, "invalid", f"Invalid value for field 'resource.name': '{name}'.")
        for key, value in body.get("labels", {}).items():
            if not LABEL_KEY_RE.match(key) or not LABEL_VALUE_RE.match(value):
                raise HTTPError(400, "invalid", f"Invalid value for field 'resource.labels': '{key}={value}'.")
        machine = body.get("machineType", "").rsplit("/", 1)[-1]
        if machine not in {mt["name"] for mt in machine_types}:
            raise HTTPError(400, "invalid", f"Invalid value for field 'resource.machineType': '{machine}'.")
        scheduling = body.get("scheduling", {})
        if scheduling.get("instanceTerminationAction") and scheduling.get("provisioningModel") != "SPOT":
            raise HTTPError(400, "invalid", "instanceTerminationAction requires provisioningModel SPOT.")
        self._check_network(zone, body)
        self._check_boot_disk(zone, machine, body)
        guest = body.get("guestAccelerators", [])
        has_gpu = bool(guest) or machine.split("-")[0] in ("a2", "a3", "g2")
        if has_gpu and scheduling.get("onHostMaintenance") != "TERMINATE":
            raise HTTPError(400, "invalid", "Instances with guest accelerators do not support live migration.")
        for acc in guest:
            acc_type = acc.get("acceleratorType", "").rsplit("/", 1)[-1]
            if acc.get("acceleratorCount", 0) > accelerators.get(acc_type, 0):
                raise HTTPError(400, "UNSUPPORTED_OPERATION", f"Accelerator {acc_type} unavailable in {zone}.")
        if (zone, name) in self.instances:
            raise HTTPError(409, "alreadyExists", f"The resource '.../instances/{name}' already exists")
        instance = dict(body, kind="compute#instance", id=str(next(self._ids)), status="PROVISIONING",
                        zone=f"{BASE}/projects/{self.project}/zones/{zone}", creationTimestamp=_now(),
                        machineType=f"{BASE}/projects/{self.project}/zones/{zone}/machineTypes/{machine}",
                        selfLink=f"{BASE}/projects/{self.project}/zones/{zone}/instances/{name}")
        failure = self.insert_failures.pop(0) if self.insert_failures else None
        if failure and failure[0] == "http":
            raise HTTPError(failure[2], failure[1], f"fake: {failure[1]} in {zone}")
        if failure:
            op = self._operation(zone, "insert", instance, delay=self.operation_delay_s, error=failure[1:])
        else:
            self.instances[(zone, name)] = instance
            op = self._operation(zone, "insert", instance, delay=self.operation_delay_s,
                                 effect=lambda: instance.__setitem__("status", "RUNNING"))
        if request_id is not None:
            self.request_ids[request_id] = (zone, op["name"])
        return op

    def _check_network(self, zone: str, body: dict[str, Any]) -> None:
        """Subnetworks are regional (https://cloud.google.com/vpc/docs/subnets): instances.insert takes a full or
        partial URL, regions/REGION/subnetworks/NAME (reference: instances.insert, networkInterfaces[].subnetwork),
        and an interface can only use a subnetwork of the instance's own region."""
        for i, nic in enumerate(body.get("networkInterfaces", [])):
            subnetwork = nic.get("subnetwork")
            if not subnetwork:
                continue
            match = SUBNETWORK_RE.search(subnetwork)
            field = f"resource.networkInterfaces[{i}].subnetwork"
            if match is None:
                raise HTTPError(400, "invalid", f"Invalid value for field '{field}': '{subnetwork}'. "
                                                "The URL is malformed.")
            if match.group(1) != zone.rsplit("-", 1)[0]:
                raise HTTPError(400, "invalid", f"Invalid value for field '{field}': '{subnetwork}'. "
                                                "Subnetwork should belong to the instance's region.")

    def _check_boot_disk(self, zone: str, machine: str, body: dict[str, Any]) -> None:
        """initializeParams.diskType is a zonal disk type URL, zones/ZONE/diskTypes/TYPE, in the instance's zone;
        left out, it is pd-standard (https://cloud.google.com/compute/docs/reference/rest/v1/instances/insert,
        disks[].initializeParams.diskType). G2 and A3 machines do not support pd-standard: their "supported disk
        types" are Balanced and SSD Persistent Disk and Hyperdisk
        (https://cloud.google.com/compute/docs/accelerator-optimized-machines)."""
        for i, disk in enumerate(body.get("disks", [])):
            params = disk.get("initializeParams") or {}
            disk_type = params.get("diskType")
            field = f"resource.disks[{i}].initializeParams.diskType"
            if disk_type is None:
                kind = "pd-standard"
            else:
                match = DISK_TYPE_RE.search(disk_type)
                if match is None or match.group(1) != zone:
                    raise HTTPError(400, "invalid", f"Invalid value for field '{field}': '{disk_type}'. "
                                                    f"The disk type must be zones/{zone}/diskTypes/TYPE.")
                kind = match.group(2)
                if kind not in DISK_TYPES:
                    raise HTTPError(400, "invalid", f"Invalid value for field '{field}': '{disk_type}'. "
                                                    "The referenced diskType resource cannot be found.")
            self.disk_types.append(kind)
            if kind == "pd-standard" and machine.split("-")[0] in NO_PD_STANDARD:
                raise HTTPError(400, "invalid", f"Invalid resource usage: '[{kind}] disk type cannot be used by "
                                                f"[{machine}] machine type.'")

    def region(self, region: str) -> dict[str, Any]:
        """regions.get: the region with its quotas (metric, limit, usage), as GCE lists them
        (https://cloud.google.com/compute/docs/reference/rest/v1/regions/get)."""
        if region not in {z.rsplit("-", 1)[0] for z in self.zone_catalog}:
            raise HTTPError(404, "notFound", f"The resource 'projects/{self.project}/regions/{region}' was not found")
        if region in self.region_errors:
            status = self.region_errors[region]
            raise HTTPError(status, "forbidden" if status == 403 else "backendError",
                            f"Required 'compute.regions.get' permission for 'projects/{self.project}/regions/"
                            f"{region}'" if status == 403 else "fake: backend error")
        quotas = [{"metric": m, "limit": limit, "usage": usage, "owner": f"projects/{self.project}"}
                  for m, (limit, usage) in sorted(self.quotas.get(region, {}).items())]
        quotas.append({"metric": "CPUS", "limit": 24.0, "usage": 0.0})
        return {"kind": "compute#region", "name": region, "status": "UP", "quotas": quotas,
                "selfLink": f"{BASE}/projects/{self.project}/regions/{region}"}

    def image_from_family(self, project: str, family: str) -> dict[str, Any]:
        """images.getFromFamily: the newest image of the family, 404 when the family has none
        (https://cloud.google.com/compute/docs/reference/rest/v1/images/getFromFamily)."""
        if (project, family) not in self.images:
            raise HTTPError(404, "notFound", f"The resource 'projects/{project}/global/images/family/{family}' was "
                                             "not found")
        return {"kind": "compute#image", "name": f"{family}-v20261201", "family": family, "status": "READY",
                "selfLink": f"{BASE}/projects/{project}/global/images/{family}-v20261201"}

    def network(self, name: str) -> dict[str, Any]:
        if name not in self.networks:
            raise HTTPError(404, "notFound", f"The resource 'projects/{self.project}/global/networks/{name}' was not "
                                             "found")
        return {"kind": "compute#network", "name": name, "autoCreateSubnetworks": name == "default",
                "selfLink": f"{BASE}/projects/{self.project}/global/networks/{name}"}

    def subnetwork(self, region: str, name: str) -> dict[str, Any]:
        if (region, name) not in self.subnetworks:
            raise HTTPError(404, "notFound", f"The resource 'projects/{self.project}/regions/{region}/subnetworks/"
                                             f"{name}' was not found")
        return {"kind": "compute#subnetwork", "name": name, "region": f"{BASE}/projects/{self.project}/regions/"
                f"{region}", "network": f"{BASE}/projects/{self.project}/global/networks/default",
                "selfLink": f"{BASE}/projects/{self.project}/regions/{region}/subnetworks/{name}"}

    def delete(self, zone: str, name: str) -> dict[str, Any]:
        instance = self.get(zone, name)
        instance["status"] = "STOPPING"
        return self._operation(zone, "delete", instance, delay=self.operation_delay_s,
                               effect=lambda: self.instances.pop((zone, name), None))

    def get(self, zone: str, name: str) -> dict[str, Any]:
        self._zone(zone)
        if (zone, name) not in self.instances:
            raise HTTPError(404, "notFound", f"The resource 'projects/{self.project}/zones/{zone}/instances/"
                                             f"{name}' was not found")
        return self.instances[(zone, name)]

    def wait(self, zone: str, name: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.wait_cap_s
        while True:
            with self.lock:
                self._advance()
                op = self.operation(zone, name)
                if op["status"] == "DONE" or time.monotonic() >= deadline:
                    return op
            time.sleep(0.01)

    def operation(self, zone: str, name: str) -> dict[str, Any]:
        if (zone, name) not in self.operations:
            raise HTTPError(404, "notFound", f"The resource 'operations/{name}' was not found")
        return self.operations[(zone, name)]


def page(items: list[Any], query: dict[str, str], default: int = 500) -> tuple[list[Any], str | None]:
    size = min(int(query.get("maxResults", default)), 500)
    start = int(query.get("pageToken") or 0)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)
