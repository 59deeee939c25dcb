"""AWS's preemption notice through IMDSv2 (../shared/design/SPOT-FACTS.md): PUT /latest/api/token, then GET
/latest/meta-data/spot/instance-action (404 while none) and the rebalance recommendation
/latest/meta-data/events/recommendations/rebalance (a hint: checkpoint now).
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html

Imported by the agent on the instance: httpx only, never boto3."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx

from providers.notice import REBALANCE, Notice, parse_time


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
            return Notice(action=str(doc.get("action", "terminate")), deadline=parse_time(doc["time"]))
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
