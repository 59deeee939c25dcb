"""Fake cloud metadata servers over real HTTP: AWS IMDSv2, GCP metadata and Azure Scheduled Events.

Each checks the headers the real service requires (and answers like it when they are missing), records the
requests it saw, and lets a test switch a notice on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class MetadataState:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.instance_action: dict[str, Any] | None = None
        self.rebalance: dict[str, Any] | None = None
        self.tokens: set[str] = set()
        self.gcp_preempted = threading.Event()
        self.gcp_maintenance = "NONE"  # instance/maintenance-event; set it with set_gcp_maintenance
        self.gcp_changed = threading.Condition()
        self.azure_events: list[dict[str, Any]] = []
        self.azure_acks: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def set_gcp_maintenance(self, value: str) -> None:
        """NONE, MIGRATE_ON_HOST_MAINTENANCE or TERMINATE_ON_HOST_MAINTENANCE; wakes the hanging long polls."""
        with self.gcp_changed:
            self.gcp_maintenance = value
            self.gcp_changed.notify_all()


def _handler(state: MetadataState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _send(self, code: int, body: str | bytes = b"", headers: dict[str, str] | None = None) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                state.requests.append((self.command, self.path, dict(self.headers), body))
            return body

        def do_PUT(self) -> None:  # noqa: N802
            self._record()
            if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                token = f"tok-{len(state.tokens)}"
                state.tokens.add(token)
                return self._send(200, token)
            return self._send(400, "missing TTL header")

        def do_GET(self) -> None:  # noqa: N802
            self._record()
            url = urlparse(self.path)
            if url.path.startswith("/latest/meta-data/"):
                if self.headers.get("X-aws-ec2-metadata-token") not in state.tokens:
                    return self._send(401, "")  # IMDSv2 refuses tokenless requests
                doc = state.instance_action if url.path.endswith("spot/instance-action") else (
                    state.rebalance if url.path.endswith("recommendations/rebalance") else None)
                return self._send(200, json.dumps(doc)) if doc else self._send(404, "Not Found")
            if url.path == "/computeMetadata/v1/instance/preempted":
                if self.headers.get("Metadata-Flavor") != "Google":
                    return self._send(403, "Missing Metadata-Flavor:Google header.")
                query = parse_qs(url.query)
                if query.get("wait_for_change") == ["true"]:
                    state.gcp_preempted.wait(float(query.get("timeout_sec", ["5"])[0]))
                value = "TRUE" if state.gcp_preempted.is_set() else "FALSE"
                return self._send(200, value, {"ETag": value.lower(), "Metadata-Flavor": "Google"})
            if url.path == "/computeMetadata/v1/instance/maintenance-event":
                if self.headers.get("Metadata-Flavor") != "Google":
                    return self._send(403, "Missing Metadata-Flavor:Google header.")
                query = parse_qs(url.query)
                with state.gcp_changed:  # GCE: wait_for_change answers at once when last_etag is not current
                    if query.get("wait_for_change") == ["true"] and \
                            query.get("last_etag", [None])[0] in (None, state.gcp_maintenance.lower()):
                        seen = state.gcp_maintenance
                        state.gcp_changed.wait_for(lambda: state.gcp_maintenance != seen,
                                                   float(query.get("timeout_sec", ["5"])[0]))
                    value = state.gcp_maintenance
                return self._send(200, value, {"ETag": value.lower(), "Metadata-Flavor": "Google"})
            if url.path == "/metadata/scheduledevents":
                if self.headers.get("Metadata") != "true" or "api-version" not in parse_qs(url.query):
                    return self._send(400, json.dumps({"error": "Bad request"}))
                with state.lock:
                    doc = {"DocumentIncarnation": len(state.azure_events), "Events": list(state.azure_events)}
                return self._send(200, json.dumps(doc), {"Content-Type": "application/json"})
            return self._send(404, "no such path")

        def do_POST(self) -> None:  # noqa: N802
            body = self._record()
            if urlparse(self.path).path == "/metadata/scheduledevents" and self.headers.get("Metadata") == "true":
                with state.lock:
                    state.azure_acks.append(json.loads(body))
                return self._send(200, "")
            return self._send(400, "")

    return Handler


@contextmanager
def fake_metadata_server() -> Iterator[tuple[str, MetadataState]]:
    state = MetadataState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        state.gcp_preempted.set()
        state.set_gcp_maintenance("SHUTDOWN")  # releases the hanging maintenance-event polls
        server.shutdown()
        server.server_close()
