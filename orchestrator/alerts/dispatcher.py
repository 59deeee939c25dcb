"""The outbox dispatcher: route, claim, send, record. At-least-once to the sink, once per event id.

Each delivery row (alert x sink, unique) is claimed with a lease before its send, so two
dispatchers (or a restarted one) never send the same delivery at the same time; it is marked
delivered in the transaction right after the sink accepted it. The only window for a duplicate is
a crash between the sink's 2xx and that commit: receivers dedupe on the event id
(X-Spotwise-Event-Id, the e-mail Message-ID), which is the same on every retry.
Failures back off exponentially (base x 2^tries, capped) up to `max_tries`; a sink over its
rate limit leaves the delivery pending for a later pass (nothing is dropped).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.alerts.routing import Route, route
from orchestrator.alerts.sinks import SinkConfig, SinkError, send
from orchestrator.containment import item_errors
from orchestrator.logs import get_logger
from orchestrator.store.db import transaction
from orchestrator.store.tables import Alert, AlertDelivery
from orchestrator.store.types import utcnow

log = get_logger(__name__)


def alert_message(a: Alert) -> dict[str, Any]:
    """The JSON every sink sees; `id` is the dedup key receivers use."""
    return {"id": a.id, "kind": a.kind, "severity": a.severity, "team": a.team, "subject": a.subject,
            "body": a.body, "payload": a.payload, "created_at": a.created_at.isoformat(),
            "timestamp": int(time.time())}


@dataclass
class TokenBucket:
    """Per-sink rate limit: `rate_per_minute` sends, bursts up to that many."""

    rate_per_minute: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.rate_per_minute
        self.tokens = min(self.rate_per_minute, self.tokens + (now - self.stamp) * self.rate_per_minute / 60.0)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Dispatcher:
    def __init__(self, sessions: sessionmaker[Session], sinks: dict[str, SinkConfig], routes: list[Route], *,
                 base_backoff: float = 2.0, max_backoff: float = 600.0, max_tries: int = 12,
                 lease_seconds: float = 60.0, batch: int = 100) -> None:
        self.sessions = sessions
        self.sinks = sinks
        self.routes = routes
        self.base_backoff, self.max_backoff, self.max_tries = base_backoff, max_backoff, max_tries
        self.lease = timedelta(seconds=lease_seconds)
        self.batch = batch
        self.buckets = {name: TokenBucket(cfg.rate_per_minute) for name, cfg in sinks.items()}

    def backoff(self, tries: int) -> float:
        return float(min(self.max_backoff, self.base_backoff * 2 ** max(0, tries - 1)))

    def run_once(self, now: datetime | None = None) -> int:
        """Route new alerts, then attempt every due delivery. Returns how many were delivered."""
        self.route_new(now)
        delivered = 0
        for delivery_id in self._claim_due(now):  # one delivery that raises stays leased, retried after the lease
            with item_errors("alert_deliver", str(delivery_id)):
                delivered += self.deliver(delivery_id)
        return delivered

    def route_new(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        with transaction(self.sessions) as s:
            for a in s.scalars(select(Alert).where(Alert.routed.is_(False)).limit(self.batch)):
                with item_errors("alert_route", str(a.id), s):
                    for sink in route(a.kind, a.severity, a.team, self.routes, list(self.sinks)):
                        s.add(AlertDelivery(alert_id=a.id, sink=sink, state="pending", tries=0, next_try_at=now,
                                            last_error=""))
                    a.routed = True

    def _claim_due(self, now: datetime | None) -> list[int]:
        now = now or utcnow()
        with transaction(self.sessions) as s:
            due = list(s.scalars(
                select(AlertDelivery.id).where(
                    AlertDelivery.state == "pending", AlertDelivery.next_try_at <= now,
                    or_(AlertDelivery.lease_until.is_(None), AlertDelivery.lease_until < now))
                .order_by(AlertDelivery.id).limit(self.batch)))
            claimed = []
            for delivery_id in due:
                result = s.execute(
                    update(AlertDelivery).where(
                        AlertDelivery.id == delivery_id, AlertDelivery.state == "pending",
                        or_(AlertDelivery.lease_until.is_(None), AlertDelivery.lease_until < now))
                    .values(lease_until=now + self.lease).execution_options(synchronize_session=False))
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(delivery_id)
        return claimed

    def deliver(self, delivery_id: int) -> int:
        """Send one claimed delivery and record the outcome. Returns 1 when delivered."""
        with transaction(self.sessions) as s:
            d = s.get(AlertDelivery, delivery_id)
            if d is None or d.state != "pending":
                return 0
            alert = s.get(Alert, d.alert_id)
            assert alert is not None
            message, sink_name = alert_message(alert), d.sink
        sink = self.sinks.get(sink_name)
        error = ""
        if sink is None:
            error = f"sink {sink_name!r} is not configured"
        elif not self.buckets[sink_name].take():
            self._release(delivery_id, 60.0 / sink.rate_per_minute)
            return 0
        else:
            try:
                send(sink_name, sink, message)
            except SinkError as exc:
                error = str(exc)
            except Exception as exc:  # noqa: BLE001 - an alert's content (a team's job name) must not stall the sink
                log.exception("alert_send_raised", alert_id=message["id"], sink=sink_name)
                error = f"sending raised {type(exc).__name__}"  # the class only: a library's message may hold secrets
        with transaction(self.sessions) as s:
            d = s.get(AlertDelivery, delivery_id)
            assert d is not None
            d.lease_until = None
            d.tries += 1
            if not error:
                d.state, d.delivered_at, d.last_error = "delivered", utcnow(), ""
                return 1
            d.last_error = error
            if d.tries >= self.max_tries or sink is None:
                d.state = "failed"
                log.error("alert_delivery_failed", alert_id=message["id"], sink=sink_name, error=error, tries=d.tries)
            else:
                d.next_try_at = utcnow() + timedelta(seconds=self.backoff(d.tries))
                log.warning("alert_delivery_retry", alert_id=message["id"], sink=sink_name, error=error,
                            tries=d.tries, next_try_at=d.next_try_at.isoformat())
        return 0

    def _release(self, delivery_id: int, after_seconds: float) -> None:
        with transaction(self.sessions) as s:
            s.execute(update(AlertDelivery).where(AlertDelivery.id == delivery_id)
                      .values(lease_until=None, next_try_at=utcnow() + timedelta(seconds=after_seconds))
                      .execution_options(synchronize_session=False))
