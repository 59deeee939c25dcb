"""Receive Spotwise webhook alerts, verify each: SPOTWISE_WEBHOOK_SECRET=... python webhook_receiver.py 8080"""
import hashlib, hmac, json, os, sys, time  # noqa: E401, I001 - one line, to stay short
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET, WINDOW = os.environ["SPOTWISE_WEBHOOK_SECRET"].encode(), 300  # the replay window, seconds
seen: set[str | None] = set()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ts, event = self.headers.get("X-Spotwise-Timestamp", ""), self.headers.get("X-Spotwise-Event-Id")
        good = "sha256=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(good, self.headers.get("X-Spotwise-Signature", ""))
        ok = ok and ts.isdigit() and abs(time.time() - int(ts)) <= WINDOW  # refuse replays of old deliveries
        self.send_response(204 if ok else 401)
        self.end_headers()
        if ok and event not in seen:  # a redelivery carries the same event id: act once
            seen.add(event)
            alert = json.loads(body)
            print(event, alert["kind"], alert["severity"], alert["subject"], flush=True)


HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
