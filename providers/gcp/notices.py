"""GCE's preemption and host-maintenance notices through the metadata server, long-polled with
`Metadata-Flavor: Google` (../shared/design/SPOT-FACTS.md).

Imported by the agent on the instance: httpx only, never the google SDK."""

from __future__ import annotations

import queue
import threading
from datetime import UTC, datetime, timedelta

import httpx

from providers.notice import HINTS, HOST_MAINTENANCE, HOST_MIGRATION, Notice


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
