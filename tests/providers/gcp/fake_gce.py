"""A fake Compute Engine (and Cloud Billing Catalog) REST server for the real google-cloud clients.

Real HTTP on 127.0.0.1 (port 0 by default), stdlib `ThreadingHTTPServer`, state in memory
(fake_state.FakeGCE). It serves what the GCP adapter uses -- zones, regions.get (quotas), machineTypes,
acceleratorTypes, images.getFromFamily, networks.get, subnetworks.get, instances
insert/get/list/aggregatedList/delete, zoneOperations get/wait/list, aggregated
operations, billing SKUs. Knobs live on FakeGCE: fail the next insert (HTTP error or failed operation), slow
operations, preempt an instance, billing down, regional quotas; `requests` counts calls per route.

Standalone, for pointing a daemon or the CLI at it:
    python -m tests.providers.gcp.fake_gce --port 8089
then configure gcp with endpoint/billing_endpoint http://127.0.0.1:8089, credentials "anonymous",
project "spotwise-test".
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.providers.gcp.fake_billing import COMPUTE_SERVICE_ID
from tests.providers.gcp.fake_state import BASE, FakeGCE, HTTPError, matches, page, parse_filter

__all__ = ["FakeGCE", "FakeGCEServer", "main"]


class Handler(BaseHTTPRequestHandler):
    """Routes /compute/v1/projects/{project}/... and /v1/services/{id}/skus onto a FakeGCE."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # without it every request costs ~40 ms (delayed ACK)
    fake: FakeGCE

    ROUTES: list[tuple[str, re.Pattern[str], str]] = [
        (m, re.compile(p), n) for m, p, n in [
            ("GET", r"^zones$", "zones.list"),
            ("GET", r"^regions/([^/]+)$", "regions.get"),
            ("GET", r"^zones/([^/]+)/machineTypes$", "machineTypes.list"),
            ("GET", r"^zones/([^/]+)/acceleratorTypes$", "acceleratorTypes.list"),
            ("POST", r"^zones/([^/]+)/instances$", "instances.insert"),
            ("GET", r"^zones/([^/]+)/instances$", "instances.list"),
            ("GET", r"^zones/([^/]+)/instances/([^/]+)$", "instances.get"),
            ("DELETE", r"^zones/([^/]+)/instances/([^/]+)$", "instances.delete"),
            ("GET", r"^aggregated/instances$", "instances.aggregatedList"),
            ("GET", r"^zones/([^/]+)/operations$", "zoneOperations.list"),
            ("GET", r"^zones/([^/]+)/operations/([^/]+)$", "zoneOperations.get"),
            ("POST", r"^zones/([^/]+)/operations/([^/]+)/wait$", "zoneOperations.wait"),
            ("GET", r"^aggregated/operations$", "globalOperations.aggregatedList"),
            ("GET", r"^global/networks/([^/]+)$", "networks.get"),
            ("GET", r"^regions/([^/]+)/subnetworks/([^/]+)$", "subnetworks.get"),
        ]
    ]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        try:
            status, payload = 200, self._route(method, url.path, query, body)
        except HTTPError as exc:
            status = exc.status
            payload = {"error": {"code": exc.status, "message": exc.message,
                                 "errors": [{"message": exc.message, "domain": "global", "reason": exc.reason}]}}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> Any:
        fake = self.fake
        billing = re.match(rf"^/v1/services/{COMPUTE_SERVICE_ID}/skus$", path)
        if billing and method == "GET":
            fake.requests["skus.list"] += 1
            if fake.billing_down:
                raise HTTPError(503, "backendError", "fake: billing catalog down")
            size = min(int(query.get("pageSize", "50")), fake.billing_page_cap)
            skus, token = page(fake.skus, {"maxResults": str(size), "pageToken": query.get("pageToken", "")})
            return {"skus": skus, "nextPageToken": token or ""}
        image = re.match(r"^/compute/v1/projects/([^/]+)/global/images/family/([^/]+)$", path)
        if image and method == "GET":  # images of any project: public images live in the publisher's project
            fake.requests["images.getFromFamily"] += 1
            return fake.image_from_family(*image.groups())
        prefix = f"/compute/v1/projects/{fake.project}/"
        if not path.startswith(prefix):
            raise HTTPError(404, "notFound", f"unknown path {path}")
        rest = path[len(prefix):]
        for route_method, pattern, name in self.ROUTES:
            match = pattern.match(rest)
            if match and route_method == method:
                fake.requests[name] += 1
                if name == "zoneOperations.wait":  # blocks: must not hold the lock
                    return fake.wait(*match.groups())
                with fake.lock:
                    fake._advance()
                    return getattr(self, "_" + name.replace(".", "_"))(*match.groups(), query=query, body=body)
        raise HTTPError(404, "notFound", f"no route {method} {path}")

    def _listing(self, kind: str, items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        selected = [i for i in items if matches(i, parse_filter(query.get("filter", "")))]
        chunk, token = page(selected, query)
        result: dict[str, Any] = {"kind": kind, "id": "fake", "items": chunk}
        if token:
            result["nextPageToken"] = token
        return result

    def _aggregated(self, kind: str, field: str, rows: list[tuple[str, dict[str, Any]]],
                    query: dict[str, str]) -> dict[str, Any]:
        clauses = parse_filter(query.get("filter", ""))
        selected = [(z, r) for z, r in sorted(rows, key=lambda zr: (zr[0], zr[1]["name"])) if matches(r, clauses)]
        chunk, token = page(selected, query)
        items: dict[str, Any] = {f"zones/{z}": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}}
                                 for z in self.fake.zone_catalog}
        for zone, resource in chunk:
            items[f"zones/{zone}"] = {field: [*items[f"zones/{zone}"].get(field, []), resource]}
        result: dict[str, Any] = {"kind": kind, "id": "fake", "items": items}
        if token:
            result["nextPageToken"] = token
        return result

    def _zones_list(self, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        zones = [{"kind": "compute#zone", "name": z, "status": "UP", "id": str(1000 + i),
                  "region": f"{BASE}/projects/{self.fake.project}/regions/{z.rsplit('-', 1)[0]}"}
                 for i, z in enumerate(sorted(self.fake.zone_catalog))]
        return self._listing("compute#zoneList", zones, query)

    def _regions_get(self, region: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        return self.fake.region(region)

    def _machineTypes_list(self, zone: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        return self._listing("compute#machineTypeList", [dict(mt, zone=zone) for mt in self.fake._zone(zone)[0]],
                             query)

    def _acceleratorTypes_list(self, zone: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        types = [{"kind": "compute#acceleratorType", "name": name, "zone": zone, "maximumCardsPerInstance": cards}
                 for name, cards in self.fake._zone(zone)[1].items()]
        return self._listing("compute#acceleratorTypeList", types, query)

    def _instances_insert(self, zone: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        return self.fake.insert(zone, body, query.get("requestId"))

    def _instances_list(self, zone: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        self.fake._zone(zone)
        rows = [i for (z, _), i in sorted(self.fake.instances.items()) if z == zone]
        return self._listing("compute#instanceList", rows, query)

    def _instances_get(self, zone: str, name: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        return self.fake.get(zone, name)

    def _instances_delete(self, zone: str, name: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        return self.fake.delete(zone, name)

    def _instances_aggregatedList(self, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        rows = [(z, i) for (z, _), i in self.fake.instances.items()]
        return self._aggregated("compute#instanceAggregatedList", "instances", rows, query)

    def _zoneOperations_list(self, zone: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        rows = [op for (z, _), op in self.fake.operations.items() if z == zone]
        return self._listing("compute#operationList", rows, query)

    def _zoneOperations_get(self, zone: str, name: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        return self.fake.operation(zone, name)

    def _networks_get(self, name: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        return self.fake.network(name)

    def _subnetworks_get(self, region: str, name: str, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        return self.fake.subnetwork(region, name)

    def _globalOperations_aggregatedList(self, *, query: dict[str, str], body: Any) -> dict[str, Any]:
        rows = [(z, op) for (z, _), op in self.fake.operations.items()]
        return self._aggregated("compute#operationAggregatedList", "operations", rows, query)


class FakeGCEServer:
    """A FakeGCE behind a ThreadingHTTPServer on 127.0.0.1, port chosen by the OS."""

    def __init__(self, fake: FakeGCE | None = None, *, port: int = 0) -> None:
        self.fake = fake or FakeGCE()
        handler = type("BoundHandler", (Handler,), {"fake": self.fake})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fake-gce", daemon=True)

    def start(self) -> FakeGCEServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Compute Engine + Billing Catalog on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--project", default="spotwise-test")
    args = parser.parse_args(argv)
    server = FakeGCEServer(FakeGCE(args.project), port=args.port)
    print(server.url, flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
