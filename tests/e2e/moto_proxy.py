"""An HTTP front for the moto server that answers what moto does not model, for a daemon SUBPROCESS.

Why a proxy and not the botocore hooks of tests/providers/aws: those hooks live in the process that
owns the boto3 session, and the e2e tests run the real `spotwise serve` in its own process. So the
fake cloud itself must serve realistic answers. This front listens on 127.0.0.1 and:
- answers EC2 DescribeSpotPriceHistory and Pricing GetProducts with the same XML/JSON generators the
  provider tests inject (tests/providers/aws/conftest.py), so the daemon's real botocore parser,
  paginator and retry handler read them exactly as in those tests;
- forwards every other request, byte for byte, to moto (run_instances, tags, terminate, SQS, ...).
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.awsrequest import AWSResponse

from tests.providers.aws.conftest import ON_DEMAND_PRICES, SPOT_PRICES, pricing_json, spot_history_xml

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class MotoFront:
    """`MotoFront(moto_url).start()`; `url` is the endpoint to configure; `calls` counts operations and
    `requests` keeps the form parameters of the EC2 calls named in RECORDED, to assert what was sent."""

    RECORDED = ("RunInstances", "TerminateInstances")

    def __init__(self, upstream: str, spot_prices: dict[tuple[str, str], float] | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.spot_prices = dict(SPOT_PRICES if spot_prices is None else spot_prices)
        self.calls: Counter[str] = Counter()
        self.requests: dict[str, list[dict[str, list[str]]]] = {}
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"front": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> MotoFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def operation(self, headers: Any, body: bytes) -> str:
        """EC2 (query protocol) names the action in the form body; JSON protocols in X-Amz-Target."""
        target = headers.get("X-Amz-Target", "")
        if target:
            return str(target).rsplit(".", 1)[-1]
        if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
            return parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
        return ""

    def answer(self, operation: str, url: str, body: bytes) -> AWSResponse | None:
        request = SimpleNamespace(url=url, body=body)
        if operation == "DescribeSpotPriceHistory":
            return spot_history_xml(request, self.spot_prices)
        if operation == "GetProducts":
            return pricing_json(request, ON_DEMAND_PRICES)
        return None


class _Handler(BaseHTTPRequestHandler):
    front: MotoFront
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # ~40 ms per request otherwise (CLOUD-TESTING.md)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        operation = self.front.operation(self.headers, body)
        if operation == "RunInstances" and b"DryRun=true" in body:
            operation = "RunInstances(DryRun)"  # the launch preflight's no-cost launch: not a launch
        with self.front.lock:
            self.front.calls[operation] += 1
            if operation in self.front.RECORDED:
                self.front.requests.setdefault(operation, []).append(parse_qs(body.decode(errors="replace")))
        injected = self.front.answer(operation, self.front.url + self.path, body)
        if injected is not None:
            self._send(injected.status_code, dict(injected.headers), injected.content)
            return
        up = self.front.upstream
        conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port or 80, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            reply = conn.getresponse()
            data = reply.read()
            self._send(reply.status, {k: v for k, v in reply.getheaders() if k.lower() not in _HOP_BY_HOP}, data)
        finally:
            conn.close()

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _relay  # noqa: N815
