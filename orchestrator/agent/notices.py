"""Preemption notice watchers, one per cloud. The agent polls the one named by SPOTWISE_NOTICE.

Each polls the real endpoint with its real headers (../shared/design/SPOT-FACTS.md):
- `aws`: IMDSv2 -- PUT /latest/api/token, then GET /latest/meta-data/spot/instance-action (404 while none) and
  the rebalance recommendation /latest/meta-data/events/recommendations/rebalance (a hint: checkpoint now);
- `gcp`: GET /computeMetadata/v1/instance/preempted and instance/maintenance-event, each a long poll
  (?wait_for_change=true) with `Metadata-Flavor: Google`. TERMINATE_ON_HOST_MAINTENANCE (an on-demand GPU VM
  stopped for host maintenance) is a notice like a preemption; MIGRATE_ON_HOST_MAINTENANCE a hint (checkpoint now);
- `azure`: Scheduled Events with `Metadata: true`; a `Preempt` event is acknowledged (POST StartRequests) by the
  agent once the checkpoint is safe, which lets Azure proceed without waiting out the notice;
- `local:PATH`: the local provider's notice file (shaped like AWS's instance-action document).
`aws:URL`, `gcp:URL` and `azure:URL` point a watcher at another metadata address (tests use fake servers).
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol

import httpx

REBALANCE = "rebalance"  # an early hint, not a reclaim: the agent checkpoints and keeps running
HOST_MIGRATION = "host-migration"  # GCE live-migrates the VM: a pause, not a stop; checkpoint and keep running
HOST_MAINTENANCE = "host-maintenance"  # GCE stops the VM for host maintenance: checkpoint and stop, as preempted
HINTS = frozenset({REBALANCE, HOST_MIGRATION})  # notices after which the job keeps running


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
    """Two metadata keys, each long-polled (`wait_for_change`) by its own thread, so either answers at once:

    - `instance/preempted`: TRUE once a Spot VM is preempted (about 30 s before it stops);
    - `instance/maintenance-event`: NONE, then MIGRATE_ON_HOST_MAINTENANCE or TERMINATE_ON_HOST_MAINTENANCE about
      60 s before host maintenance (https://cloud.google.com/compute/docs/metadata/getting-live-migration-notice).
      GPU VMs cannot live-migrate (onHostMaintenance TERMINATE): an on-demand GPU VM is stopped, which the agent
      treats like a preemption (checkpoint, stop, report preempted: the daemon relaunches elsewhere). MIGRATE (a
      VM without GPUs, or a future GPU type that migrates) pauses the VM briefly: a hint to checkpoint now.
    A value is reported once per change (back to NONE after the event, so the next event is seen again).
    """

    NOTICE_SECONDS = 30.0  # GCE gives Spot VMs about 30 s
    MAINTENANCE_NOTICE_SECONDS = 60.0  # the maintenance-event value changes 60 s before the maintenance
    MAINTENANCE_ACTIONS = {"TERMINATE_ON_HOST_MAINTENANCE": HOST_MAINTENANCE,
                           "MIGRATE_ON_HOST_MAINTENANCE": HOST_MIGRATION}

    def __init__(self, base_url: str = "http://metadata.google.internal", hang_seconds: int = 10) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=hang_seconds + 5.0,
                                 headers={"Metadata-Flavor": "Google"})
        self.hang_seconds = hang_seconds
        self._notices: queue.Queue[Notice] = queue.Queue()
        self._started = False
        self._maintenance = "NONE"

    def wait(self, stop: threading.Event) -> Notice | None:
        if not self._started:  # the pollers outlive one wait(): the agent waits again after a hint
            self._started = True
            for key in ("preempted", "maintenance-event"):
                threading.Thread(target=self._poll, args=(key, stop), name=f"gce-{key}", daemon=True).start()
        while not stop.is_set():
            try:
                return self._notices.get(timeout=0.2)
            except queue.Empty:
                continue
        return None

    def _poll(self, key: str, stop: threading.Event) -> None:
        params: dict[str, str] = {}
        while not stop.is_set():
            try:
                response = self.http.get(f"/computeMetadata/v1/instance/{key}", params=params)
            except httpx.HTTPError:
                if stop.wait(1.0):
                    return
                continue
            if response.status_code == 200:
                notice = self._notice(key, response.text.strip().upper())
                if notice is not None:
                    self._notices.put(notice)
                    if notice.action not in HINTS:
                        return  # the VM is going: nothing more to watch on this key
            etag = response.headers.get("ETag")
            params = {"wait_for_change": "true", "timeout_sec": str(self.hang_seconds)}
            if etag:
                params["last_etag"] = etag
            if response.status_code != 200 and stop.wait(1.0):
                return

    def _notice(self, key: str, value: str) -> Notice | None:
        now = datetime.now(UTC)
        if key == "preempted":
            return Notice("preempt", now + timedelta(seconds=self.NOTICE_SECONDS)) if value == "TRUE" else None
        if value == self._maintenance:
            return None
        self._maintenance = value
        action = self.MAINTENANCE_ACTIONS.get(value)
        return Notice(action, now + timedelta(seconds=self.MAINTENANCE_NOTICE_SECONDS)) if action else None

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
