"""A real daemon delivers its alerts through an apprise sink (Apprise's json:// URL at a real local receiver):
through a receiver outage every alert arrives exactly once, and the token in the URL appears in no log, no
`spotwise alerts list` output and no `alerts test` answer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Daemon, running_daemon, write
from tests.spending.test_apprise_sink import TOKEN, JsonReceiver

POLICY = """\
budgets:
  - name: tiny
    period: total
    limit_usd: 0.0004
    thresholds:
      - {percent: 25, action: alert}
      - {percent: 50, action: alert}
      - {percent: 75, action: alert}
      - {percent: 100, action: alert}
"""


@pytest.fixture
def receiver() -> Iterator[JsonReceiver]:
    r = JsonReceiver()
    yield r
    if r.server is not None:
        r.stop()


def delivered_to_pager(d: Daemon) -> dict[str, dict[str, Any]]:
    items = d.api("GET", "/v1/alerts", params={"limit": 200})["items"]
    return {a["id"]: {**a, "delivery": x} for a in items for x in a["deliveries"]
            if x["sink"] == "pager" and x["state"] == "delivered"}


def test_every_alert_reaches_an_apprise_url_once_through_an_outage(receiver: JsonReceiver, tmp_path: Path) -> None:
    sinks = {"pager": {"type": "apprise", "urls": [receiver.url]}}
    env = {"SPOTWISE_ALERT_SINKS": json.dumps(sinks), "SPOTWISE_ALERT_INTERVAL_SECONDS": "0.5",
           "SPOTWISE_LEDGER_INTERVAL_SECONDS": "1", "SPOTWISE_BUDGET_INTERVAL_SECONDS": "1"}
    receiver.status = 500  # broken from the start: every first try fails
    with running_daemon(tmp_path / "home", env) as d:
        d.cli("policy", "apply", str(write(tmp_path / "policy.yaml", POLICY)), check=True)
        d.cli("submit", str(write(tmp_path / "job.yaml", "name: spend\nrun: sleep 6\n"
                                  "resources: {accelerators: 'T4:1'}\n")), check=True)
        deadline = time.monotonic() + 60
        while receiver.refused < 3:  # the daemon tried, Apprise said False, the outbox kept them pending
            assert time.monotonic() < deadline, "the daemon never tried the apprise sink"
            time.sleep(0.2)
        failing = d.cli("alerts", "test", "pager")
        assert failing.returncode == 1 and "json:// refused" in failing.stderr and "error=500" in failing.stderr
        receiver.status = 200
        while True:
            delivered = {k: v for k, v in delivered_to_pager(d).items() if v["kind"] == "cost.threshold"}
            if len(delivered) == 4:
                break
            assert time.monotonic() < deadline + 60, f"delivered so far: {[a['subject'] for a in delivered.values()]}"
            time.sleep(0.5)
        assert d.cli("alerts", "test", "pager", check=True).stdout.startswith("test alert ")
        time.sleep(1.5)  # anything still in flight reaches the receiver
        listed = d.cli("alerts", "list", check=True).stdout + d.cli("alerts", "list", "-o", "json", check=True).stdout
        log = (d.home / "daemon.log").read_text()
    assert set(delivered) <= set(receiver.received), "marked delivered but never received"
    counted = {k: receiver.received[k] for k in delivered}
    assert set(counted.values()) == {1}, f"an alert arrived twice: {counted}"
    assert max(a["delivery"]["tries"] for a in delivered.values()) > 1  # the outage was really waited out
    assert sorted(a["subject"] for a in delivered.values())[0] == "budget tiny crossed 100% (alert), threshold 4 of 4"
    assert TOKEN not in listed and TOKEN not in log and TOKEN not in failing.stderr + failing.stdout
    assert "pager:delivered" in listed
