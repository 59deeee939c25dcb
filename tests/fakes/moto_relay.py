"""The one HTTP front for the moto server, for a daemon SUBPROCESS: answers what moto does not model,
counts what was asked, and (for the chaos run) injects EC2's faults on the wire.

Why a relay and not the botocore hooks of tests/providers/aws: those hooks live in the process that owns
the boto3 session, and the e2e and chaos tests run the real `spotwise serve` in its own process. So the
fake cloud itself must serve realistic answers. This front listens on 127.0.0.1 and:
- answers EC2 DescribeSpotPriceHistory and Pricing GetProducts with the same XML/JSON generators the
  provider tests inject (tests/providers/aws/conftest.py), so the daemon's real botocore parser,
  paginator and retry handler read them exactly as in those tests;
- counts every operation in `calls` (a launch preflight's no-cost launch as `RunInstances(DryRun)`, not as
  a launch) and keeps the form parameters of the EC2 calls named in RECORDED, to assert what was sent;
- honours a RunInstances ClientToken as EC2 does: a repeat of a request with the same token returns the
  first one's result and launches nothing. moto records the token but does not honour it, so a botocore
  retry of a lost answer would otherwise show up as a second instance real EC2 would never make
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Run_Instance_Idempotency.html);
- forwards every other request, byte for byte, to moto (run_instances, tags, terminate, SQS, ...).

Faults (`faults=EC2Faults(...)`, off by default) are drawn at `error_rate` per call of the operations in
FAULTED. Why on the wire and not through the `faulty` provider: the daemon's real botocore client, its retry
handler and providers/aws/errors.py must meet the faults the way EC2 sends them (XML error bodies with
InsufficientInstanceCapacity, RequestLimitExceeded, InternalError), including botocore's own retries.
- capacity (RunInstances only), throttle and server errors: answered here, nothing reaches moto;
- lost (RunInstances only): the launch really happens in moto, then the answer is replaced by a 500, the
  ambiguous case the attempt's ClientToken exists for.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.awsrequest import AWSResponse

from tests.providers.aws.conftest import ON_DEMAND_PRICES, SPOT_PRICES, pricing_json, spot_history_xml

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}

FAULTED: dict[str, tuple[str, ...]] = {
    "RunInstances": ("capacity", "throttle", "server", "lost"),
    "DescribeInstances": ("throttle", "server"),
    "TerminateInstances": ("throttle", "server"),
}
_ERRORS = {"capacity": ("InsufficientInstanceCapacity", 500), "throttle": ("RequestLimitExceeded", 503),
           "server": ("InternalError", 500), "lost": ("InternalError", 500)}

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class EC2Faults:
    """Seeded EC2 faults: the same seed draws the same faults for the same sequence of calls."""

    seed: int
    error_rate: float
    log: Path  # one JSON line per injected fault, for the chaos report


class MotoFront:
    """`MotoFront(moto_url).start()`; `url` is the endpoint to configure; `calls` counts operations,
    `requests` keeps the form parameters of the RECORDED calls, `faults` counts the injected ones."""

    RECORDED = ("RunInstances", "TerminateInstances")

    def __init__(self, upstream: str, spot_prices: dict[tuple[str, str], float] | None = None, *,
                 faults: EC2Faults | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.spot_prices = dict(SPOT_PRICES if spot_prices is None else spot_prices)
        self.calls: Counter[str] = Counter()
        self.requests: dict[str, list[dict[str, list[str]]]] = {}
        self.lock = threading.Lock()
        self.fault_plan = faults
        self.rng = random.Random(f"aws-front:{faults.seed}" if faults else 0)
        self.faults: Counter[str] = Counter()
        self.launches: dict[str, Answer] = {}  # ClientToken -> first successful answer
        self.token_repeats = 0
        self.untokened_launches = 0
        self.launch_lock = threading.Lock()  # one RunInstances at a time: the token check and the launch are one step
        handler = type("Handler", (_Handler,), {"front": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        if faults is not None:
            self.server.handle_error = lambda *_: None  # type: ignore[method-assign]  # a SIGKILLed daemon's reset
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

    def draw(self, operation: str) -> str | None:
        """The fault this call meets, if any; None always when no faults were asked for."""
        plan = self.fault_plan
        kinds = FAULTED.get(operation)
        if plan is None or not kinds:
            return None
        with self.lock:
            if self.rng.random() >= plan.error_rate:
                return None
            kind = self.rng.choice(kinds)
            self.faults[f"EC2 {kind} ({operation})"] += 1
        with open(plan.log, "a") as fh:
            fh.write(json.dumps({"t": time.time(), "op": operation, "kind": kind}) + "\n")
        return kind


class _Handler(BaseHTTPRequestHandler):
    front: MotoFront
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # ~40 ms per request otherwise (CLOUD-TESTING.md)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        front = self.front
        operation = front.operation(self.headers, body)
        counted = operation
        if operation == "RunInstances" and b"DryRun=true" in body:
            counted = "RunInstances(DryRun)"  # the launch preflight's no-cost launch: not a launch
        with front.lock:
            front.calls[counted] += 1
            if counted in front.RECORDED:
                front.requests.setdefault(counted, []).append(parse_qs(body.decode(errors="replace")))
        fault = front.draw(operation)
        if fault is not None and fault != "lost":
            self._error(fault)
            return
        injected = front.answer(operation, front.url + self.path, body)
        if injected is not None:
            self._send(injected.status_code, dict(injected.headers), injected.content)
            return
        answer = self._launch(body) if operation == "RunInstances" else self._forward(body)
        if fault == "lost":
            self._error(fault)
        else:
            self._send(*answer)

    do_GET = do_POST = do_PUT = do_DELETE = _relay  # noqa: N815

    def _launch(self, body: bytes) -> Answer:
        """RunInstances with EC2's ClientToken idempotency (see the module docstring)."""
        front = self.front
        token = parse_qs(body.decode(errors="replace")).get("ClientToken", [""])[0]
        with front.launch_lock:
            if not token:
                front.untokened_launches += 1
            first = front.launches.get(token) if token else None
            if first is not None:
                front.token_repeats += 1
                return first
            answer = self._forward(body)
            if token and answer[0] == 200:
                front.launches[token] = answer
            return answer

    def _forward(self, body: bytes) -> Answer:
        up = self.front.upstream
        conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port or 80, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            reply = conn.getresponse()
            data = reply.read()
            return reply.status, {k: v for k, v in reply.getheaders() if k.lower() not in _HOP_BY_HOP}, data
        finally:
            conn.close()

    def _error(self, fault: str) -> None:
        code, status = _ERRORS[fault]
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>chaos: injected {fault}</Message></Error>"
                "</Errors><RequestID>chaos</RequestID></Response>").encode()
        self._send(status, {"Content-Type": "text/xml"}, body)

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
