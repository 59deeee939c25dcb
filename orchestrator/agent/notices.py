"""Preemption notice watchers, one per cloud. The agent polls the one named by SPOTWISE_NOTICE.

Each polls the real endpoint with its real headers (../shared/design/SPOT-FACTS.md):
- `aws`: IMDSv2 -- PUT /latest/api/token, then GET /latest/meta-data/spot/instance-action (404 while none) and
  the rebalance recommendation /latest/meta-data/events/recommendations/rebalance (a hint: checkpoint now);
- `gcp`: GET /computeMetadata/v1/instance/preempted?wait_for_change=true with `Metadata-Flavor: Google`;
- `azure`: Scheduled Events with `Metadata: true`; a `Preempt` event is acknowledged (POST StartRequests) by the
  agent once the checkpoint is safe, which lets Azure proceed without waiting out the notice;
- `local:PATH`: the local provider's notice file (shaped like AWS's instance-action document).
`aws:URL`, `gcp:URL` and `azure:URL` point a watcher at another metadata address (tests use fake servers).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol

import httpx

REBALANCE = "rebalance"  # an early hint, not a reclaim: the agent checkpoints and keeps running


@dataclass(frozen=True)
class Notice:
    action: str
    deadline: datetime
    event_id: str | None = None  # Azure's EventId, needed to acknowledge

    def seconds_left(self) -> float:
        return max(0.0, (self.deadline - datetime.now(UTC)).total_seconds())

    def __str__(self) -> str:
        return f"{self.action} at {self.deadline.isoformat()} ({self.seconds_left():.1f}s left)"


class NoticeWatcher(Protocol):
    def wait(self, stop: threading.Event) -> Notice | None:
        """Block until a notice arrives (returned) or `stop` is set (None). Called again after a rebalance hint."""
        ...

    def acknowledge(self, notice: Notice) -> None:
        """Tell the cloud the instance is ready to go (checkpoint safe). A no-op where the cloud has no such call."""
        ...


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class LocalFileNotice:
    def __init__(self, path: Path, poll_seconds: float = 0.25) -> None:
        self.path = path
        self.poll_seconds = poll_seconds

    def wait(self, stop: threading.Event) -> Notice | None:
        while not stop.wait(self.poll_seconds):
            try:
                doc = json.loads(self.path.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            return Notice(action=str(doc.get("action", "terminate")), deadline=_parse_time(doc["time"]))
        return None

    def acknowledge(self, notice: Notice) -> None:
        return None


class AwsImdsNotice:
    """IMDSv2: a session token first (re-fetched on 401 or before it expires), then the two documents."""

    TOKEN_TTL = 21600

    def __init__(self, base_url: str = "http://169.254.169.254", poll_seconds: float = 5.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=2.0)
        self.poll_seconds = poll_seconds
        self._token: str | None = None
        self._rebalance_seen = False

    def _fetch_token(self) -> str:
        response = self.http.put("/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds":
                                                               str(self.TOKEN_TTL)})
        response.raise_for_status()
        return response.text

    def _get(self, path: str) -> httpx.Response:
        if self._token is None:
            self._token = self._fetch_token()
        response = self.http.get(path, headers={"X-aws-ec2-metadata-token": self._token})
        if response.status_code == 401:
            self._token = self._fetch_token()
            response = self.http.get(path, headers={"X-aws-ec2-metadata-token": self._token})
        return response

    def poll(self) -> Notice | None:
        action = self._get("/latest/meta-data/spot/instance-action")
        if action.status_code == 200:
            doc = action.json()
            return Notice(action=str(doc.get("action", "terminate")), deadline=_parse_time(doc["time"]))
        if not self._rebalance_seen:
            hint = self._get("/latest/meta-data/events/recommendations/rebalance")
            if hint.status_code == 200:
                self._rebalance_seen = True
                return Notice(action=REBALANCE, deadline=datetime.now(UTC) + timedelta(minutes=2))
        return None

    def wait(self, stop: threading.Event) -> Notice | None:
        while True:
            try:
                notice = self.poll()
            except (httpx.HTTPError, ValueError, KeyError):
                notice = None  # the metadata service hiccuped: poll again
            if notice is not None:
                return notice
            if stop.wait(self.poll_seconds):
                return None

    def acknowledge(self, notice: Notice) -> None:
        return None


class GcpMetadataNotice:
    """`instance/preempted` answers TRUE once preempted; `wait_for_change` makes each request a long poll."""

    NOTICE_SECONDS = 30.0  # GCE gives Spot VMs about 30 s

    def __init__(self, base_url: str = "http://metadata.google.internal", hang_seconds: int = 10) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=hang_seconds + 5.0,
                                 headers={"Metadata-Flavor": "Google"})
        self.hang_seconds = hang_seconds

    def wait(self, stop: threading.Event) -> Notice | None:
        params: dict[str, str] = {}
        while not stop.is_set():
            try:
                response = self.http.get("/computeMetadata/v1/instance/preempted", params=params)
            except httpx.HTTPError:
                if stop.wait(1.0):
                    return None
                continue
            if response.status_code == 200 and response.text.strip().upper() == "TRUE":
                return Notice("preempt", datetime.now(UTC) + timedelta(seconds=self.NOTICE_SECONDS))
            etag = response.headers.get("ETag")
            params = {"wait_for_change": "true", "timeout_sec": str(self.hang_seconds)}
            if etag:
                params["last_etag"] = etag
            if response.status_code != 200 and stop.wait(1.0):
                return None
        return None

    def acknowledge(self, notice: Notice) -> None:
        return None


class AzureScheduledEvents:
    """Scheduled Events: a `Preempt` event with a NotBefore time; StartRequests acknowledges it."""

    PATH = "/metadata/scheduledevents"
    PARAMS = {"api-version": "2020-07-01"}

    def __init__(self, base_url: str = "http://169.254.169.254", poll_seconds: float = 1.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=2.0, headers={"Metadata": "true"})
        self.poll_seconds = poll_seconds

    def poll(self) -> Notice | None:
        response = self.http.get(self.PATH, params=self.PARAMS)
        response.raise_for_status()
        for event in response.json().get("Events", []):
            if event.get("EventType") == "Preempt":
                not_before = event.get("NotBefore") or ""
                deadline = parsedate_to_datetime(not_before) if not_before else datetime.now(UTC)
                return Notice("preempt", deadline, event_id=str(event["EventId"]))
        return None

    def wait(self, stop: threading.Event) -> Notice | None:
        while True:
            try:
                notice = self.poll()
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                notice = None
            if notice is not None:
                return notice
            if stop.wait(self.poll_seconds):
                return None

    def acknowledge(self, notice: Notice) -> None:
        if notice.event_id is None:
            return
        self.http.post(self.PATH, params=self.PARAMS, json={"StartRequests": [{"EventId": notice.event_id}]})


def watcher_for(source: str) -> NoticeWatcher | None:
    kind, _, arg = source.partition(":")
    if kind == "local" and arg:
        return LocalFileNotice(Path(arg))
    if kind == "aws":
        return AwsImdsNotice(arg) if arg else AwsImdsNotice()
    if kind == "gcp":
        return GcpMetadataNotice(arg) if arg else GcpMetadataNotice()
    if kind == "azure":
        return AzureScheduledEvents(arg) if arg else AzureScheduledEvents()
    return None
