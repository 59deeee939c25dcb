"""The AWS chaos run's cloud: the e2e moto front (injected spot prices) plus seeded EC2 faults on the wire.

Why on the wire and not through the `faulty` provider: on AWS the daemon's real botocore client, its retry
handler and providers/aws/errors.py must meet the faults the way EC2 sends them (XML error bodies with
InsufficientInstanceCapacity, RequestLimitExceeded, InternalError), including botocore's own retries.

Faults, at `error_rate` per call of the operations in FAULTED:
- capacity (RunInstances only), throttle and server errors: answered here, nothing reaches moto;
- lost (RunInstances only): the launch really happens in moto, then the answer is replaced by a 500, the
  ambiguous case the attempt's ClientToken exists for.
moto records a RunInstances ClientToken but does not honour it, while EC2 does (a repeat of a request with
the same token returns the first one's result and launches nothing); this front does what EC2 does, or a
botocore retry of a lost answer would show up as a second instance that real EC2 would never make.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs

from tests.e2e.moto_proxy import _HOP_BY_HOP, MotoFront, _Handler

FAULTED: dict[str, tuple[str, ...]] = {
    "RunInstances": ("capacity", "throttle", "server", "lost"),
    "DescribeInstances": ("throttle", "server"),
    "TerminateInstances": ("throttle", "server"),
}
_ERRORS = {"capacity": ("InsufficientInstanceCapacity", 500), "throttle": ("RequestLimitExceeded", 503),
           "server": ("InternalError", 500), "lost": ("InternalError", 500)}


class ChaosFront(MotoFront):
    def __init__(self, upstream: str, *, seed: int, error_rate: float, fault_log: Path) -> None:
        super().__init__(upstream)
        self.server.RequestHandlerClass = type("ChaosHandler", (_ChaosHandler,), {"front": self})
        self.server.handle_error = lambda *_: None  # type: ignore[method-assign]  # a SIGKILLed daemon's reset
        self.rng = random.Random(f"aws-front:{seed}")
        self.error_rate = error_rate
        self.fault_log = fault_log
        self.faults: Counter[str] = Counter()
        self.launches: dict[str, tuple[int, dict[str, str], bytes]] = {}  # ClientToken -> first answer
        self.token_repeats = 0
        self.untokened_launches = 0
        self.launch_lock = threading.Lock()  # one RunInstances at a time: the token check and the launch are one step

    def draw(self, operation: str) -> str | None:
        kinds = FAULTED.get(operation)
        with self.lock:
            if not kinds or self.rng.random() >= self.error_rate:
                return None
            kind = self.rng.choice(kinds)
            self.faults[f"EC2 {kind} ({operation})"] += 1
        with open(self.fault_log, "a") as fh:
            fh.write(json.dumps({"t": time.time(), "op": operation, "kind": kind}) + "\n")
        return kind


class _ChaosHandler(_Handler):
    front: ChaosFront

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        front = self.front
        operation = front.operation(self.headers, body)
        fault = front.draw(operation)
        if fault is not None and fault != "lost":
            self._error(fault)
            return
        injected = front.answer(operation, front.url + self.path, body)
        if injected is not None:
            self._send(injected.status_code, dict(injected.headers), injected.content)
            return
        if operation != "RunInstances":
            self._send(*self._forward(body))
            return
        token = parse_qs(body.decode(errors="replace")).get("ClientToken", [""])[0]
        with front.launch_lock:
            if not token:
                front.untokened_launches += 1
            first = front.launches.get(token) if token else None
            if first is not None:
                front.token_repeats += 1
                answer = first
            else:
                answer = self._forward(body)
                if token and answer[0] == 200:
                    front.launches[token] = answer
        if fault == "lost":
            self._error(fault)
        else:
            self._send(*answer)

    do_GET = do_POST = do_PUT = do_DELETE = _relay  # noqa: N815 - the parent bound its own _relay

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
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
