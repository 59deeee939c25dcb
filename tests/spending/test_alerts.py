"""Alerts reach real receivers: an HTTP webhook (signature verified), a Slack-shaped receiver and an
SMTP server (aiosmtpd, STARTTLS + AUTH); with the receiver down and the dispatcher restarted, every
alert arrives exactly once; secrets never reach the log."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.alerts import emit
from orchestrator.alerts.dispatcher import Dispatcher
from orchestrator.alerts.routing import parse_routes, route
from orchestrator.alerts.sinks import SIGNATURE_HEADER, TIMESTAMP_HEADER, parse_sinks, verify
from orchestrator.store.db import transaction
from orchestrator.store.tables import AlertDelivery

SECRET = "s3cret-hmac"
TOKEN = "T000/B000/XXXXsecrettoken"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """A real HTTP server; `up=False` answers 503 (a sink that is down)."""

    def __init__(self, port: int) -> None:
        self.port, self.up, self.bodies, self.bad_signatures = port, True, [], 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not outer.up:
                    self.send_response(503)
                    self.end_headers()
                    return
                if SIGNATURE_HEADER in self.headers and not verify(
                        SECRET.encode(), self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER]):
                    outer.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    yield r
    r.close()


def dispatcher(sessions: sessionmaker[Session], sinks: dict[str, Any], **kw: Any) -> Dispatcher:
    return Dispatcher(sessions, parse_sinks(sinks), [], base_backoff=0.0, **kw)


def webhook(r: Receiver) -> dict[str, Any]:
    return {"type": "webhook", "url": f"http://127.0.0.1:{r.port}/hook?token={TOKEN}", "secret": SECRET}


def test_webhook_signed_and_slack_shape(sessions: sessionmaker[Session], receiver: Receiver) -> None:
    slack = Receiver(free_port())
    try:
        with transaction(sessions) as s:
            emit(s, "cost.threshold", "budget x crossed 80%", team="a", body="details")
        d = dispatcher(sessions, {"hook": webhook(receiver),
                                  "slack": {"type": "slack", "url": f"http://127.0.0.1:{slack.port}/services/{TOKEN}"}})
        assert d.run_once() == 2
    finally:
        slack.close()
    assert receiver.bad_signatures == 0
    [msg] = receiver.bodies
    assert msg["kind"] == "cost.threshold" and msg["team"] == "a" and msg["id"] and msg["timestamp"]
    [sl] = slack.bodies
    assert "budget x crossed 80%" in sl["text"] and sl["blocks"][0]["type"] == "section"


def test_smtp_with_starttls_and_auth(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append((session.authenticated, envelope.content.decode()))
            return "250 OK"

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=data.login == b"alerts" and data.password == b"pw-secret")

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True,
                            authenticator=auth, auth_require_tls=True)
    controller.start()
    try:
        with transaction(sessions) as s:
            emit(s, "shutdown.idle", "instance i-1 shut down", team="a")
        d = dispatcher(sessions, {"mail": {"type": "smtp", "host": "127.0.0.1", "port": port, "username": "alerts",
                                           "password": "pw-secret", "sender": "spotwise@example.com",
                                           "to": ["ops@example.com"], "ca_file": str(ca_file)}})
        assert d.run_once() == 1
    finally:
        controller.stop()
    [(authenticated, content)] = received
    assert authenticated and "instance i-1 shut down" in content


def test_exactly_once_with_receiver_down_and_dispatcher_restarted(
        sessions: sessionmaker[Session], receiver: Receiver, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    with transaction(sessions) as s:
        for i in range(5):
            emit(s, "job.failed", f"job {i} failed", dedup_key=f"job.failed:{i}")
        assert emit(s, "job.failed", "again", dedup_key="job.failed:0") is None  # dedup
    receiver.up = False
    first = dispatcher(sessions, {"hook": webhook(receiver)})
    assert first.run_once() == 0 and first.run_once() == 0
    del first  # the daemon dies; all state is in the database
    receiver.up = True
    second = dispatcher(sessions, {"hook": webhook(receiver)})
    assert second.run_once() == 5
    assert second.run_once() == 0
    assert sorted(b["subject"] for b in receiver.bodies) == [f"job {i} failed" for i in range(5)]
    with transaction(sessions) as s:
        tries = [d.tries for d in s.scalars(select(AlertDelivery))]
    assert all(t == 3 for t in tries)
    logged = caplog.text + capsys.readouterr().out + capsys.readouterr().err
    assert "hook?token" not in logged and "127.0.0.1" in logged  # httpx's request log keeps only the host
    assert TOKEN not in logged and SECRET not in logged


def test_backoff_limit_and_rate_limit(sessions: sessionmaker[Session], receiver: Receiver) -> None:
    d = Dispatcher(sessions, parse_sinks({"hook": {**webhook(receiver), "rate_per_minute": 2}}), [],
                   base_backoff=60.0)
    assert [d.backoff(n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    with transaction(sessions) as s:
        for i in range(4):
            emit(s, "job.preempted", f"p{i}")
    assert d.run_once() == 2  # the bucket holds two; the rest wait, nothing is dropped
    with transaction(sessions) as s:
        states = sorted(x.state for x in s.scalars(select(AlertDelivery)))
    assert states == ["delivered", "delivered", "pending", "pending"]


def test_sink_repr_hides_secrets_and_routing() -> None:
    sinks = parse_sinks({"hook": {"type": "webhook", "url": f"https://x/{TOKEN}", "secret": SECRET},
                         "mail": {"type": "smtp", "host": "h", "sender": "a@b", "to": ["c@d"], "password": "pw"}})
    assert TOKEN not in repr(sinks) and SECRET not in repr(sinks) and "'pw'" not in repr(sinks)
    routes = parse_routes([{"sinks": ["hook"], "kinds": ["cost.*"], "teams": ["a"]},
                           {"sinks": ["mail"], "min_severity": "critical"}])
    assert route("cost.threshold", "warning", "a", routes, ["hook", "mail"]) == ["hook"]
    assert route("cost.threshold", "warning", "b", routes, ["hook", "mail"]) == []
    assert route("job.failed", "critical", "b", routes, ["hook", "mail"]) == ["mail"]
    assert route("job.failed", "info", None, [], ["hook", "mail"]) == ["hook", "mail"]
