"""The spending part of `spotwise demo`: a budget alert and an idle shutdown, delivered for real.

Why a separate module: the demo is shared by several features; this keeps the spending story
(a policy file, a local webhook receiver that verifies the HMAC signature, the log sink) in one
place and leaves `demo.py` with three calls. The idle job is a job stuck in `setup` (no job process
running on its instance): the idle rule warns after its window and shuts the instance down after
its grace, seconds rather than minutes so the whole demo stays under two minutes.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rich.console import Console

from orchestrator.alerts.sinks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from orchestrator.cli.client import Client

POLICY = """\
# The demo's policy file (spotwise policy apply FILE does the same).
budgets:
  - name: demo-total
    scope: team:demo
    period: total
    limit_usd: 0.0005
    thresholds:
      - {percent: 50, action: alert}
idle:
  - scope: label:demo=idle
    gpu_utilization_below: 5
    window: 3s
    grace: 3s
    action: terminate
"""

WANTED = ("cost.threshold", "idle.warning", "shutdown.idle")


class WebhookReceiver:
    """A local HTTP server standing in for the team's webhook endpoint; keeps what it received."""

    def __init__(self) -> None:
        self.secret = secrets.token_hex(16)
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = verify(receiver.secret.encode(), self.headers.get(TIMESTAMP_HEADER, ""), body,
                            self.headers.get(SIGNATURE_HEADER, ""))
                if ok:
                    receiver.received.append(json.loads(body))
                self.send_response(200 if ok else 401)
                self.end_headers()

            def log_message(self, *args: object) -> None:  # quiet: the demo prints what matters
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/spotwise"

    def kinds(self) -> set[str]:
        return {str(a.get("kind")) for a in self.received}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def daemon_env(receiver: WebhookReceiver) -> dict[str, str]:
    """Alert sinks (log + the receiver) and sweeps fast enough for a demo."""
    sinks = {"log": {"type": "log"}, "demo-webhook": {"type": "webhook", "url": receiver.url,
                                                      "secret": receiver.secret}}
    return {"SPOTWISE_ALERT_SINKS": json.dumps(sinks), "SPOTWISE_ALERT_INTERVAL_SECONDS": "0.5",
            "SPOTWISE_LEDGER_INTERVAL_SECONDS": "1", "SPOTWISE_BUDGET_INTERVAL_SECONDS": "1",
            "SPOTWISE_IDLE_INTERVAL_SECONDS": "1", "SPOTWISE_STOP_GRACE_SECONDS": "5"}


def start(api: Client, console: Console, spec: dict[str, Any]) -> str:
    """Apply the policy and submit the idle job (same resources as `spec`); returns its id."""
    version = api.post("/v1/policies", {"text": POLICY, "source": "demo"})["version"]
    console.print(f"policy version {version}: budget demo-total alerts at 50% of $0.0005; "
                  "idle rule: 3s window, 3s grace (jobs labelled demo=idle)")
    idle = {**spec, "name": "stuck-in-setup", "labels": {"demo": "idle"}, "setup": "sleep 600", "run": "true",
            "checkpoint": None}
    job = api.post("/v1/jobs", idle)
    console.print(f"submitted [bold]{job['id']}[/]: stuck-in-setup (its instance will sit idle)")
    return str(job["id"])


def finish(api: Client, console: Console, receiver: WebhookReceiver, idle_job: str, timeout: float = 40.0) -> bool:
    """Wait for the idle shutdown and the alerts at both sinks; print them. True when all arrived."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{idle_job}")
        alerts = [a for a in api.get("/v1/alerts", limit=50)["items"] if a["kind"] in WANTED]
        logged = {a["kind"] for a in alerts for d in a["deliveries"]
                  if d["sink"] == "log" and d["state"] == "delivered"}
        if set(WANTED) <= logged and set(WANTED) <= receiver.kinds():
            break
        time.sleep(0.5)
    console.print(f"{idle_job} [bold]{job.get('state')}[/]: {job.get('reason', '')}", highlight=False)
    for a in sorted(alerts, key=lambda a: a["created_at"]):
        sinks = ", ".join(f"{d['sink']}:{d['state']}" for d in a["deliveries"])
        console.print(f"alert [bold]{a['kind']}[/] {a['subject']} -> {sinks}", highlight=False)
    got = receiver.kinds()
    console.print(f"webhook receiver at {receiver.url} got {len(receiver.received)} signed alert(s) "
                  f"(HMAC-SHA256 verified): {', '.join(sorted(got))}", highlight=False)
    return set(WANTED) <= got and job.get("state") == "FAILED"
