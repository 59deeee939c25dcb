"""Alert sinks: generic webhook (HMAC-signed), Slack incoming webhook, SMTP email, the log, and Apprise.

Secrets (webhook URLs carry tokens, the HMAC secret, the SMTP password) are `SecretStr`: they
print as '**********', and a failed send raises `SinkError` with a message built only from
non-secret facts (status code, exception class), never from the library's message, which for
httpx includes the full URL.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import typing
from email.message import EmailMessage
from typing import Annotated, Any, Literal, Union

import httpx
from pydantic import Field, SecretStr, TypeAdapter

from orchestrator.alerts.apprise_sink import AppriseSink
from orchestrator.alerts.signature import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from orchestrator.alerts.sinkbase import Sink, SinkError, http_url_problem
from orchestrator.logs import get_logger

log = get_logger("spotwise.alerts")

__all__ = ["EVENT_ID_HEADER", "SIGNATURE_HEADER", "SINK_MODELS", "TIMESTAMP_HEADER", "AppriseSink", "LogSink",
           "Sink", "SinkConfig", "SinkError", "SlackSink", "SmtpSink", "WebhookSink", "parse_sinks", "send", "sign",
           "slack_message", "verify"]


class _RedactUrls(logging.Filter):
    """httpx logs every request's full URL at INFO; webhook URLs carry tokens, so keep only the host."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(f"{a.scheme}://{a.host}/<redacted>" if isinstance(a, httpx.URL) else a
                                for a in record.args)
        return True


logging.getLogger("httpx").addFilter(_RedactUrls())


class WebhookSink(Sink):
    """A JSON POST of each alert, signed with HMAC-SHA256 (docs/alerts.md#verifying-a-webhook)."""

    type: Literal["webhook"]
    url: SecretStr = Field(description="`https://` URL to POST to; it may carry a token, it is never printed or "
                           "logged")
    secret: SecretStr = Field(description="the HMAC-SHA256 key; the receiver verifies with the same one")
    allow_http: bool = Field(default=False, description="accept an `http://` URL to a host that is not this "
                             "machine")

    def problems(self, name: str) -> list[str]:
        problem = http_url_problem(f"alert_sinks.{name}.url", self.url.get_secret_value(), self.allow_http)
        return [problem] if problem else []

    def send(self, name: str, alert: dict[str, Any]) -> None:
        body = json.dumps(alert, sort_keys=True, separators=(",", ":")).encode()
        ts = str(alert["timestamp"])
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: alert["id"], TIMESTAMP_HEADER: ts,
                   SIGNATURE_HEADER: sign(self.secret.get_secret_value().encode(), ts, body)}
        _post(self.url.get_secret_value(), body, headers, self.timeout_seconds)


class SlackSink(Sink):
    """A Slack incoming webhook: a text line plus blocks per alert."""

    type: Literal["slack"]
    url: SecretStr = Field(description="the incoming-webhook URL, `https://hooks.slack.com/services/...` "
                           "(never printed)")
    allow_http: bool = Field(default=False, description="as for webhook")

    def problems(self, name: str) -> list[str]:
        problem = http_url_problem(f"alert_sinks.{name}.url", self.url.get_secret_value(), self.allow_http)
        return [problem] if problem else []

    def send(self, name: str, alert: dict[str, Any]) -> None:
        _post(self.url.get_secret_value(), json.dumps(slack_message(alert)).encode(),
              {"Content-Type": "application/json"}, self.timeout_seconds)


class SmtpSink(Sink):
    """E-mail through an SMTP relay, STARTTLS by default."""

    type: Literal["smtp"]
    host: str = Field(description="the SMTP relay")
    port: int = Field(default=587, description="the relay's port")
    starttls: bool = Field(default=True, description="upgrade to TLS before logging in")
    username: str = Field(default="", description="log in as this user; empty: no login")
    password: SecretStr = Field(default=SecretStr(""), description="the login password (never printed)")
    sender: str = Field(description="the From address")
    to: list[str] = Field(min_length=1, description="recipients, at least one")
    ca_file: str | None = Field(default=None, description="trust this CA file (a private relay); default: the "
                                "system store")

    def send(self, name: str, alert: dict[str, Any]) -> None:
        _send_mail(self, alert)


class LogSink(Sink):
    """One warning line per alert in the daemon's log."""

    type: Literal["log"]

    def send(self, name: str, alert: dict[str, Any]) -> None:
        log.warning("alert", alert_id=alert["id"], kind=alert["kind"], severity=alert["severity"],
                    team=alert["team"], subject=alert["subject"], sink=name)


def _type_name(model: type[Sink]) -> str:
    return str(typing.get_args(model.model_fields["type"].annotation)[0])


#: Every sink type, by the `type:` that names it in `alert_sinks`: the one place a new sink type is added.
SINK_MODELS: dict[str, type[Sink]] = {_type_name(m): m for m in (WebhookSink, SlackSink, SmtpSink, LogSink,
                                                                  AppriseSink)}
SinkConfig = Sink  # a configured sink: one of SINK_MODELS
_ONE_OF: Any = Annotated[Union[tuple(SINK_MODELS.values())], Field(discriminator="type")]  # noqa: UP007
_ADAPTER: TypeAdapter[dict[str, Sink]] = TypeAdapter(dict[str, _ONE_OF])


def parse_sinks(raw: dict[str, dict[str, Any]]) -> dict[str, Sink]:
    """Validate the `alert_sinks` setting (name -> {type: one of SINK_MODELS, ...})."""
    return _ADAPTER.validate_python(raw)


def _post(url: str, content: bytes, headers: dict[str, str], timeout: float) -> None:
    try:
        response = httpx.post(url, content=content, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise SinkError(f"request failed: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise SinkError(f"HTTP {response.status_code}")


def send(name: str, sink: Sink, alert: dict[str, Any]) -> None:
    """Deliver one alert (a JSON-ready dict with id, kind, severity, subject, ...) to one sink. Raises SinkError."""
    sink.send(name, alert)


def slack_message(alert: dict[str, Any]) -> dict[str, Any]:
    """Slack incoming-webhook shape: `text` (the fallback) plus blocks."""
    icon = {"critical": ":rotating_light:", "warning": ":warning:"}.get(alert["severity"], ":information_source:")
    text = f"{icon} [{alert['kind']}] {alert['subject']}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}}]
    if alert.get("body"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": alert["body"]}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"team {alert.get('team') or '-'} · {alert['created_at']} · id {alert['id']}"}]})
    return {"text": text, "blocks": blocks}


def _send_mail(sink: SmtpSink, alert: dict[str, Any]) -> None:
    msg = EmailMessage()
    msg["From"] = sink.sender
    msg["To"] = ", ".join(sink.to)
    msg["Subject"] = f"[spotwise {alert['severity']}] {alert['subject']}"
    msg["Message-ID"] = f"<{alert['id']}@spotwise>"
    msg.set_content(f"{alert['subject']}\n\n{alert.get('body', '')}\n\nkind: {alert['kind']}\n"
                    f"team: {alert.get('team') or '-'}\nid: {alert['id']}\nat: {alert['created_at']}\n")
    try:
        with smtplib.SMTP(sink.host, sink.port, timeout=sink.timeout_seconds) as smtp:
            if sink.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=sink.ca_file))
            if sink.username:
                smtp.login(sink.username, sink.password.get_secret_value())
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        raise SinkError(f"SMTP {exc.smtp_code}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise SinkError(f"SMTP failed: {type(exc).__name__}") from None
