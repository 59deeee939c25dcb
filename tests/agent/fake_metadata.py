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
        self.azure_events: list[dict[str, Any]] = []
        self.azure_acks: list[dict[str, Any]] = []
        self.lock = threading.Lock()


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
        server.shutdown()
        server.server_close()
