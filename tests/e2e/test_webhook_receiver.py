"""The documented webhook receiver (examples/webhook_receiver.py, shown whole in docs/alerts.md) verifies every
alert a real daemon delivers, and refuses forged, tampered and replayed deliveries.

Why run the example itself: it is the code a team copies on day one; if the signed string, a header name or
the body shape changed, this is where it must fail, not in their receiver. `spotwise alerts verify` is checked
on the same signature.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.alerts.signature import sign
from orchestrator.cli.demo import free_port
from tests.e2e.conftest import Daemon, running_daemon, write

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "webhook_receiver.py"
SECRET = "receiver-secret-0123456789"
POLICY = """\
budgets:
  - name: tiny
    period: total
    limit_usd: 0.0005
    thresholds:
      - {percent: 50, action: alert}
      - {percent: 100, action: alert}
idle:
  - scope: label:story=idle
    window: 2s
    grace: 2s
"""


@pytest.fixture
def receiver() -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), str(port)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "SPOTWISE_WEBHOOK_SECRET": SECRET}, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline and proc.poll() is None, "the example receiver did not start"
            time.sleep(0.1)
    try:
        yield proc, port
    finally:
        proc.kill()
        proc.wait()


def _post(port: int, body: bytes, timestamp: str, signature: str, event: str = "e-1") -> int:
    headers = {"X-Spotwise-Timestamp": timestamp, "X-Spotwise-Signature": signature, "X-Spotwise-Event-Id": event,
               "Content-Type": "application/json"}
    return httpx.post(f"http://127.0.0.1:{port}/hook", content=body, headers=headers, timeout=5).status_code


def _delivered_to_hook(d: Daemon) -> dict[str, dict[str, Any]]:
    items = d.api("GET", "/v1/alerts", params={"limit": 200})["items"]
    return {a["id"]: a for a in items for x in a["deliveries"] if x["sink"] == "hook" and x["state"] == "delivered"}


def test_the_documented_receiver_verifies_every_alert_a_daemon_delivers(
        receiver: tuple[subprocess.Popen[str], int], tmp_path: Path) -> None:
    proc, port = receiver
    sinks = {"hook": {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook", "secret": SECRET}}
    env = {"SPOTWISE_ALERT_SINKS": json.dumps(sinks), "SPOTWISE_ALERT_INTERVAL_SECONDS": "0.5",
           "SPOTWISE_LEDGER_INTERVAL_SECONDS": "1", "SPOTWISE_BUDGET_INTERVAL_SECONDS": "1",
           "SPOTWISE_IDLE_INTERVAL_SECONDS": "1"}
    with running_daemon(tmp_path / "home", env) as d:
        d.cli("policy", "apply", str(write(tmp_path / "policy.yaml", POLICY)), check=True)
        idle = write(tmp_path / "idle.yaml", "name: stuck\nlabels: {story: idle}\nsetup: sleep 600\nrun: 'true'\n"
                                             "resources: {accelerators: 'T4:1'}\n")
        busy = write(tmp_path / "busy.yaml", "name: busy\nrun: sleep 8\nresources: {accelerators: 'T4:1'}\n")
        d.cli("submit", str(idle), check=True)
        d.cli("submit", str(busy), check=True)
        d.cli("alerts", "test", "hook", check=True)
        wanted = {"test", "cost.threshold", "idle.warning", "shutdown.idle"}
        deadline = time.monotonic() + 60
        while True:
            delivered = _delivered_to_hook(d)
            kinds = [a["kind"] for a in delivered.values()]
            if wanted <= set(kinds) and kinds.count("cost.threshold") == 2:
                break
            assert time.monotonic() < deadline, f"delivered so far: {kinds}"
            time.sleep(0.5)
        time.sleep(1)  # anything still in flight reaches the receiver's output
        proc.kill()
        lines = (proc.communicate()[0] or "").splitlines()
    printed = {line.split(" ", 1)[0]: line for line in lines}
    assert len(printed) == len(lines), f"an alert was acted on twice: {lines}"
    assert set(delivered) <= set(printed), f"delivered but refused by the receiver: {set(delivered) - set(printed)}"
    for alert_id, alert in delivered.items():
        assert printed[alert_id] == f"{alert_id} {alert['kind']} {alert['severity']} {alert['subject']}"
    crossings = sorted((a for a in delivered.values() if a["kind"] == "cost.threshold"),
                       key=lambda a: str(a["subject"]).endswith("2 of 2"))
    assert [a["subject"] for a in crossings] == ["budget tiny crossed 50% (alert), threshold 1 of 2",
                                                 "budget tiny crossed 100% (alert), threshold 2 of 2"]
    assert crossings[0]["body"].startswith("the 50% threshold (alert) is $0.00025; $0.")
    assert crossings[1]["body"].startswith("the 100% threshold (alert) is $0.0005; $0.")
    for a in crossings:  # a fraction of a cent reads as such, not "$0.00 committed of $0.00"
        assert re.search(r"\$0\.0*[1-9]\d* committed of \$0\.0005 \(\d+%\)", a["body"]), a["body"]


def test_the_receiver_refuses_forged_tampered_and_replayed_deliveries(
        receiver: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = receiver
    body = json.dumps({"id": "e-1", "kind": "test", "severity": "info", "subject": "hello"}).encode()
    now = str(int(time.time()))
    assert _post(port, body, now, sign(SECRET.encode(), now, body)) == 204
    assert _post(port, body, now, sign(SECRET.encode(), now, body)) == 204  # a redelivery: accepted, not re-acted
    assert _post(port, body, now, sign(b"another-secret", now, body)) == 401
    assert _post(port, body + b" ", now, sign(SECRET.encode(), now, body)) == 401
    old = str(int(time.time()) - 600)
    assert _post(port, body, old, sign(SECRET.encode(), old, body)) == 401
    assert _post(port, body, "", "") == 401
    proc.kill()
    assert (proc.communicate()[0] or "").splitlines() == ["e-1 test info hello"]


def _verify(tmp_path: Path, body: bytes, timestamp: str, signature: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "body.json"
    path.write_bytes(body)
    return subprocess.run([sys.executable, "-m", "orchestrator", "alerts", "verify", str(path), "--timestamp",
                           timestamp, "--signature", signature], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SPOTWISE_WEBHOOK_SECRET": SECRET})


def test_alerts_verify_tells_a_genuine_delivery_from_a_bad_one(tmp_path: Path) -> None:
    body = json.dumps({"id": "a1", "kind": "test"}).encode()
    now = str(int(time.time()))
    good = _verify(tmp_path, body, now, sign(SECRET.encode(), now, body))
    assert good.returncode == 0 and "genuine" in good.stdout and "alert a1, test" in good.stdout, good.stderr
    tampered = _verify(tmp_path, body + b"\n", now, sign(SECRET.encode(), now, body))
    assert tampered.returncode == 1 and "the signature does not match" in tampered.stderr
    assert "Traceback" not in tampered.stderr
    old = str(int(time.time()) - 3600)
    stale = _verify(tmp_path, body, old, sign(SECRET.encode(), old, body))
    assert stale.returncode == 1 and "outside the 300s replay window" in stale.stderr
