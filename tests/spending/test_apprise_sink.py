"""The apprise sink delivers through the real outbox to a real HTTP receiver (Apprise's `json://` URL pointed at
it), survives a receiver outage without losing or repeating an alert, and keeps the tokens in its URLs out of
logs and stored errors; its settings are checked at start.

Why a json:// receiver: it is the one Apprise service a test can run locally, and it goes through the same
code as every other (Apprise builds the request, `notify()` reports the outcome by returning True or False).
Apprise 2.x posts `{"version", "title", "message", "attachments", "type"}` as JSON over http to the host and
path of the URL, loopback included (checked here against a real server).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.alerts import emit
from orchestrator.alerts.checks import alert_config_problems
from orchestrator.alerts.dispatcher import Dispatcher
from orchestrator.alerts.sinks import parse_sinks
from orchestrator.cli.demo import free_port
from orchestrator.store.db import transaction
from orchestrator.store.tables import AlertDelivery

TOKEN = "Xq7-apprise-path-token-2f9c"
ROOT = Path(__file__).resolve().parents[2]


class JsonReceiver:
    """A real HTTP server for Apprise's json:// service. `status` is its answer (500: broken); `stop()` and
    `start()` take it off the port and bring it back on the same one (a receiver that is down)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self.received: Counter[str] = Counter()  # alert id -> deliveries accepted
        self.refused = 0
        self.bodies: list[dict[str, Any]] = []
        self.paths: set[str] = set()
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer._lock:
                    outer.paths.add(self.path)
                    if outer.status >= 300:
                        outer.refused += 1
                    else:
                        outer.bodies.append(body)
                        found = re.search(r"^id: (\w+)$", body["message"], re.M)
                        outer.received[found.group(1) if found else "?"] += 1
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        self.server = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/alerts/{TOKEN}"


@pytest.fixture
def receiver() -> Iterator[JsonReceiver]:
    r = JsonReceiver()
    yield r
    if r.server is not None:
        r.stop()


def pager(r: JsonReceiver) -> dict[str, Any]:
    return {"pager": {"type": "apprise", "urls": [r.url], "timeout_seconds": 5}}


def emit_five(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        for i in range(5):
            emit(s, "job.failed", f"job {i} failed", severity="critical" if i % 2 else "warning", team="vision",
                 body=f"exit code {i}", dedup_key=f"job.failed:{i}")


def deliveries(sessions: sessionmaker[Session]) -> list[AlertDelivery]:
    with transaction(sessions) as s:
        rows = list(s.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))
        s.expunge_all()
    return rows


def run_until_delivered(d: Dispatcher, sessions: sessionmaker[Session], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while any(x.state != "delivered" for x in deliveries(sessions)):
        assert time.monotonic() < deadline, [(x.state, x.tries, x.last_error) for x in deliveries(sessions)]
        d.run_once()


def test_a_receiver_answering_500_then_recovering_gets_every_alert_once(
        sessions: sessionmaker[Session], receiver: JsonReceiver, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    emit_five(sessions)
    receiver.status = 500
    d = Dispatcher(sessions, parse_sinks(pager(receiver)), [], base_backoff=0.0)
    assert d.run_once() == 0 and d.run_once() == 0
    assert receiver.refused == 10 and not receiver.received  # Apprise's False was a failure: retried, not dropped
    for row in deliveries(sessions):
        assert row.state == "pending" and row.tries == 2
        assert row.last_error.startswith("apprise: 1 of 1 URLs failed: json:// refused (")
        assert "error=500" in row.last_error and TOKEN not in row.last_error
    receiver.status = 200
    run_until_delivered(d, sessions)
    assert d.run_once() == 0
    assert len(receiver.received) == 5 and set(receiver.received.values()) == {1}, receiver.received
    assert receiver.paths == {f"/alerts/{TOKEN}"}
    [first] = [b for b in receiver.bodies if str(b["title"]).endswith("job 0 failed")]
    assert first["title"] == "[spotwise warning] job 0 failed" and first["type"] == "warning"
    assert first["message"].startswith("exit code 0\n\nkind: job.failed\nteam: vision\nid: ")
    assert {b["type"] for b in receiver.bodies} == {"warning", "failure"}  # critical -> Apprise's failure
    logged = caplog.text + "".join(capsys.readouterr())
    assert "alert_delivery_retry" in logged or "apprise: 1 of 1" in logged
    assert TOKEN not in logged


def test_a_receiver_that_is_down_then_back_gets_every_alert_once_across_a_restart(
        sessions: sessionmaker[Session], receiver: JsonReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emit_five(sessions)
    receiver.stop()  # nothing listens: connection refused
    first = Dispatcher(sessions, parse_sinks(pager(receiver)), [], base_backoff=0.0)
    assert first.run_once() == 0
    del first  # the daemon dies; every delivery's state is in the database
    errors = {row.last_error for row in deliveries(sessions)}
    assert len(errors) == 1 and "json:// refused (A Connection error occurred" in errors.pop()
    receiver.start()
    second = Dispatcher(sessions, parse_sinks(pager(receiver)), [], base_backoff=0.0)
    run_until_delivered(second, sessions)
    assert len(receiver.received) == 5 and set(receiver.received.values()) == {1}
    assert [row.tries for row in deliveries(sessions)] == [2] * 5
    assert TOKEN not in caplog.text and "127.0.0.1:" + str(receiver.port) + "/alerts" not in caplog.text


def test_one_failing_url_fails_the_delivery_and_the_retry_goes_to_every_url(
        sessions: sessionmaker[Session], receiver: JsonReceiver) -> None:
    """Delivery state is per sink: the documented cost of several URLs in one sink is a repeat to the others."""
    broken = JsonReceiver()
    try:
        broken.status = 500
        sinks = parse_sinks({"both": {"type": "apprise", "urls": [receiver.url, broken.url]}})
        with transaction(sessions) as s:
            emit(s, "test", "one alert", severity="info")
        d = Dispatcher(sessions, sinks, [], base_backoff=0.0)
        assert d.run_once() == 0
        [row] = deliveries(sessions)
        assert row.state == "pending" and row.last_error.startswith("apprise: 1 of 2 URLs failed: json:// refused")
        broken.status = 200
        run_until_delivered(d, sessions)
        assert sum(broken.received.values()) == 1 and sum(receiver.received.values()) == 2
    finally:
        broken.stop()


def test_the_settings_are_checked_at_start_without_printing_a_url() -> None:
    secret_host = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    problems = alert_config_problems({
        "good": {"type": "apprise", "urls": ["json://127.0.0.1:9/x", f"tgram://{secret_host}/-100123",
                                             "jsons://alerts.example.com/hook", "discord://4174216298/JHMHI8qBe7"]},
        "lan": {"type": "apprise", "urls": ["json://10.0.0.7/hook"], "allow_http": True},
        "typo": {"type": "apprise", "urls": ["discord://4174216298/tok", f"tgrm://{secret_host}/-100123"]},
        "clear": {"type": "apprise", "urls": [f"json://alerts.example.com/{TOKEN}"]},
        "empty": {"type": "apprise", "urls": []},
        "teams": {"type": "apprise", "urls": ["msteams://TEAM/TOKEN_A/TOKEN_B/TOKEN_C"]},
    }, [])
    text = "\n".join(problems)
    assert problems == [
        "alert_sinks.empty.urls: List should have at least 1 item after validation, not 0",
        "alert_sinks.typo.urls.1: Apprise cannot use this tgrm:// URL (an unknown service, or a part missing or "
        "malformed; https://github.com/caronc/apprise/wiki lists each service's URL)",
        "alert_sinks.clear.urls.0: http:// would send alerts in clear to alerts.example.com; use jsons://, or set "
        "allow_http: true on the sink",
        "alert_sinks.teams.urls.0: Apprise cannot use this msteams:// URL (an unknown service, or a part missing "
        "or malformed; https://github.com/caronc/apprise/wiki lists each service's URL)",
    ], text
    assert secret_host not in text and TOKEN not in text and "TOKEN_A" not in text
    assert "****" in repr(parse_sinks({"p": {"type": "apprise", "urls": [f"tgram://{secret_host}/1"]}}))


def test_a_daemon_without_the_library_refuses_to_start_and_says_how_to_install_it(tmp_path: Path) -> None:
    """A runtime-only install (apprise refused as tests/runtime_imports.py refuses every optional library)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTWISE_")}
    env.update({"SPOTWISE_HOME": str(home), "SPOTWISE_PORT": str(free_port()), "PYTHONPATH": str(ROOT),
                "SPOTWISE_ALERT_SINKS": json.dumps({"pager": {"type": "apprise", "urls": [f"json://h/{TOKEN}"]}})})
    code = ("import sys\nfrom tests.runtime_imports import RefuseOptional\nsys.meta_path.insert(0, RefuseOptional())\n"
            "sys.argv = ['spotwise', 'serve']\nfrom orchestrator.cli import main\nmain()\n")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert ("alert_sinks.pager: the apprise sink needs the apprise library: pip install 'spotwise[apprise]'"
            in out), out
    assert "Traceback" not in out and TOKEN not in out and "daemon_starting" not in out
