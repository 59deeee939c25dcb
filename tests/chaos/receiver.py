"""A local webhook receiver that counts deliveries by event id and can be down or slow on demand.

Why its own server: "no alert lost or duplicated" is judged at the receiving end, the only place that
knows what really arrived. It checks each body's HMAC signature, so a delivery that arrives garbled or
unsigned does not count.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from orchestrator.alerts.sinks import EVENT_ID_HEADER, sign


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.down = False
        self.hold_seconds = 0.0
        self.received: Counter[str] = Counter()
        self.rejected_while_down = 0
        self.bad_signatures = 0
        self.in_flight = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.down:
                    with receiver._lock:
                        receiver.rejected_while_down += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                if receiver.hold_seconds:
                    receiver.in_flight.set()
                    time.sleep(receiver.hold_seconds)
                ts = self.headers.get("X-Spotwise-Timestamp", "")
                signature = self.headers.get("X-Spotwise-Signature", "")
                with receiver._lock:
                    if signature and signature != sign(receiver.secret, ts, body):
                        receiver.bad_signatures += 1
                    receiver.received[self.headers.get(EVENT_ID_HEADER, "?")] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="chaos-receiver")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=chaos-url-token"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
