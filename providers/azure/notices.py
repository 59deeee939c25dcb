"""Azure's preemption notice through Scheduled Events (`Metadata: true`); a `Preempt` event is acknowledged
(POST StartRequests) once the checkpoint is safe, which lets Azure proceed without waiting out the notice.
https://learn.microsoft.com/azure/virtual-machines/linux/scheduled-events

Imported by the agent on the instance: httpx only, never the azure SDK."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from providers.notice import Notice


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
