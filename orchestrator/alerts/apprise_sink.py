"""The Apprise sink: PagerDuty, Microsoft Teams, Discord, Telegram and the other services Apprise reaches, by URL.

Why Apprise: one optional library (`pip install 'spotwise[apprise]'`) speaks to a hundred services, each named by
a URL (`pagerduty://`, `msteams://`, `discord://`, `tgram://`, ...: https://github.com/caronc/apprise/wiki), so
the outbox's guarantees (retries with backoff, a delivery state per sink, the alert id in every message) reach
them without a sink type per service.

Three things Apprise does differently from the other sinks, handled here:
- `notify()` returns False on a failed delivery instead of raising: that is a SinkError, so the outbox retries.
- Its URLs carry the services' tokens, and its log lines name hosts and URLs (a Telegram bot token is the URL's
  host). Its logger does not reach the daemon's log: what a send logs is captured, stripped of every piece of the
  URL, and only then kept as the delivery's error (`spotwise alerts list` shows it).
- It is optional: imported only when a sink of this type is checked or sends, and a config naming one without the
  library installed is refused at daemon start with the command that installs it.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Literal

from pydantic import Field, SecretStr

from orchestrator.alerts.sinkbase import Sink, SinkError, http_url_problem

INSTALL_HINT = "pip install 'spotwise[apprise]'"
#: Apprise schemes that are plain-http POSTs to a host of the operator's choosing: the webhook sink's https rule.
PLAIN_HTTP_SCHEMES = {"json": "jsons", "xml": "xmls", "form": "forms"}
SEVERITY_TYPES = {"critical": "failure", "warning": "warning", "info": "info"}  # apprise.NotifyType values


class _Capture(logging.Filter):
    """Keeps Apprise's warnings, per thread, while a send runs, and lets no record of Apprise's logger reach any
    handler: a logger's filter runs before every handler, the daemon's and any a test harness attaches alike."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        lines = getattr(self.local, "lines", None)
        if lines is not None and record.levelno >= logging.WARNING:
            lines.append(record.getMessage())
        return False


class _RedactRequestPaths(logging.Filter):
    """urllib3 (under Apprise's `requests`) logs each request's path and query at DEBUG: a Telegram bot token,
    a Discord webhook token, a json:// URL's path are there. Keep the method and the status, drop the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 5 and '"%s %s %s"' in str(record.msg):
            record.args = (*record.args[:4], "<redacted>", *record.args[5:])
        return True


_CAPTURE = _Capture()
logging.getLogger("apprise").addFilter(_CAPTURE)  # its lines may hold a token: never into any log as they are
logging.getLogger("urllib3.connectionpool").addFilter(_RedactRequestPaths())


def scheme_of(url: str) -> str:
    """`tgram` of `tgram://...`: the only part of an Apprise URL that is safe to print."""
    head, sep, _ = url.partition("://")
    return head.lower() if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head) else "?"


def redact(text: str, url: str) -> str:
    """`text` with every piece of `url` after its scheme (host, user, password, path, query values) removed."""
    _, _, rest = url.partition("://")
    pieces = sorted({p for p in re.split(r"[/:@?&=#,;]+", rest) if len(p) >= 3}, key=len, reverse=True)
    for piece in pieces:
        text = text.replace(piece, "<redacted>")
    return text


def _apprise() -> Any:
    try:
        import apprise
    except ImportError:
        raise SinkError(f"the apprise library is not installed: {INSTALL_HINT}") from None
    return apprise


class AppriseSink(Sink):
    """Any service Apprise reaches, each named by an Apprise URL; every URL gets every alert."""

    type: Literal["apprise"]
    urls: list[SecretStr] = Field(min_length=1, description="Apprise URLs, one per service: `pagerduty://...`, "
                                  "`msteams://...`, `discord://...`, `tgram://...`; they carry the services' "
                                  "tokens and are never printed or logged")
    allow_http: bool = Field(default=False, description="accept a plain-http `json://`, `xml://` or `form://` "
                             "URL to a host that is not this machine")

    def problems(self, name: str) -> list[str]:
        """The library is installed, Apprise can parse every URL, and none sends in clear to another host."""
        try:
            apprise = _apprise()
        except SinkError:
            return [f"alert_sinks.{name}: the apprise sink needs the apprise library: {INSTALL_HINT}"]
        found = []
        for i, secret in enumerate(self.urls):
            url, where = secret.get_secret_value(), f"alert_sinks.{name}.urls.{i}"
            scheme = scheme_of(url)
            if apprise.Apprise.instantiate(url) is None:
                found.append(f"{where}: Apprise cannot use this {scheme}:// URL (an unknown service, or a part "
                             "missing or malformed; https://github.com/caronc/apprise/wiki lists each service's "
                             "URL)")
            elif scheme in PLAIN_HTTP_SCHEMES:
                problem = http_url_problem(where, "http://" + url.partition("://")[2], self.allow_http)
                if problem:
                    found.append(problem.replace("use https://", f"use {PLAIN_HTTP_SCHEMES[scheme]}://"))
        return found

    def send(self, name: str, alert: dict[str, Any]) -> None:
        """Notify every URL; any refusal fails the whole delivery, which the outbox retries (to every URL)."""
        apprise = _apprise()
        title = f"[spotwise {alert['severity']}] {alert['subject']}"
        body = (f"{alert.get('body') or alert['subject']}\n\nkind: {alert['kind']}\nteam: {alert.get('team') or '-'}"
                f"\nid: {alert['id']}\nat: {alert['created_at']}")
        kind = apprise.NotifyType(SEVERITY_TYPES.get(alert["severity"], "info"))
        failed = []
        for secret in self.urls:
            url = secret.get_secret_value()
            _CAPTURE.local.lines = []
            try:
                service = apprise.Apprise.instantiate(url)
                if service is None:
                    failed.append(f"{scheme_of(url)}:// cannot be parsed")
                    continue
                service.socket_connect_timeout = service.socket_read_timeout = self.timeout_seconds
                ok = service.notify(body=body, title=title, notify_type=kind)
            except Exception as exc:  # noqa: BLE001 - a plugin's own exception: its class only, never its text
                ok = False
                _CAPTURE.local.lines.append(f"raised {type(exc).__name__}")
            finally:
                said = [redact(line, url) for line in _CAPTURE.local.lines]
                _CAPTURE.local.lines = None
            if not ok:
                failed.append(f"{scheme_of(url)}:// refused" + (f" ({said[-1][:200]})" if said else ""))
        if failed:
            raise SinkError(f"apprise: {len(failed)} of {len(self.urls)} URLs failed: " + "; ".join(failed))
