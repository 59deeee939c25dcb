"""What every alert sink is: a pydantic model of its settings that knows how to send one alert.

Why a method per sink rather than one `send()` with a branch per type: adding a sink type is then one class in
the registry (`sinks.SINK_MODELS`), and the dispatcher, the start-up checks and the generated reference
(orchestrator/alerts/sinkdoc.py) pick it up without an edit elsewhere.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.publicurl import is_loopback_host


class SinkError(Exception):
    """A delivery failed; the message is safe to log and store (no URL, token or password in it)."""


class Sink(BaseModel):
    """Settings every sink takes, and the two things a sink does: check itself at start, send one alert."""

    model_config = ConfigDict(extra="forbid")
    rate_per_minute: float = Field(default=60.0, gt=0, description="sends per minute at most; more wait for a "
                                   "later pass, none is dropped")
    timeout_seconds: float = Field(default=10.0, gt=0, description="one delivery attempt gives up after this, and "
                                   "is retried with backoff")

    def problems(self, name: str) -> list[str]:
        """What would stop this sink from ever delivering, one line each, found at daemon start. Pure."""
        return []

    def send(self, name: str, alert: dict[str, Any]) -> None:
        """Deliver one alert (a JSON-ready dict with id, kind, severity, subject, ...). Raises SinkError."""
        raise NotImplementedError


def http_url_problem(where: str, url: str, allow_http: bool) -> str | None:
    """https:// always; http:// only to this machine (a local receiver) or with `allow_http: true`.

    Over plain http anyone on the path reads every alert (and a webhook's signature, to replay it)."""
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{where}: must be an https:// URL with a host"
    if parts.scheme == "http" and not allow_http and not is_loopback_host(parts.hostname):
        return (f"{where}: http:// would send alerts in clear to {parts.hostname}; use https://, "
                "or set allow_http: true on the sink")
    return None
