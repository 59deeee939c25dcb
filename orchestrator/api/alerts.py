"""/v1/alerts: history with delivery status; `POST /v1/alerts/test` sends one alert to one sink now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from orchestrator.alerts import emit
from orchestrator.alerts.dispatcher import Dispatcher
from orchestrator.alerts.routing import parse_routes
from orchestrator.alerts.sinks import parse_sinks
from orchestrator.api.deps import AdminDep, RuntimeDep, SessionDep, UserDep
from orchestrator.api.errors import ApiError
from orchestrator.store.db import transaction
from orchestrator.store.tables import Alert, AlertDelivery
from orchestrator.store.types import utcnow

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


class TestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sink: str


def alert_view(a: Alert, deliveries: list[AlertDelivery]) -> dict[str, Any]:
    return {"id": a.id, "kind": a.kind, "severity": a.severity, "team": a.team, "subject": a.subject,
            "body": a.body, "created_at": a.created_at.isoformat(),
            "deliveries": [{"sink": d.sink, "state": d.state, "tries": d.tries, "last_error": d.last_error,
                            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None}
                           for d in deliveries]}


@router.get("")
def list_alerts(principal: UserDep, session: SessionDep, kind: str | None = None,
                limit: int = Query(default=50, ge=1, le=500)) -> dict[str, Any]:
    """Newest first, at most `limit` (1 to 500: a 0 or negative limit was silently read as 1)."""
    stmt = select(Alert).order_by(Alert.created_at.desc()).limit(limit)
    if kind:
        stmt = stmt.where(Alert.kind == kind)
    if not principal.is_admin:
        stmt = stmt.where(Alert.team == principal.team)
    alerts = list(session.scalars(stmt))
    deliveries: dict[str, list[AlertDelivery]] = {}
    for d in session.scalars(select(AlertDelivery).where(AlertDelivery.alert_id.in_([a.id for a in alerts]))):
        deliveries.setdefault(d.alert_id, []).append(d)
    return {"items": [alert_view(a, deliveries.get(a.id, [])) for a in alerts]}


@router.post("/test")
def test_sink(body: TestRequest, principal: AdminDep, rt: RuntimeDep) -> dict[str, Any]:
    sinks = parse_sinks(rt.settings.alert_sinks)
    if body.sink not in sinks:
        raise ApiError(404, "not_found", f"no sink named {body.sink!r}; configured sinks: "
                       f"{', '.join(sorted(sinks)) or '(none: set alert_sinks in the daemon config)'}")
    with transaction(rt.sessions) as s:
        alert = emit(s, "test", f"test alert for sink {body.sink}", severity="info",
                     body="sent by 'spotwise alerts test'")
        assert alert is not None
        alert.routed = True  # only the named sink, whatever the routes say
        s.flush()
        delivery = AlertDelivery(alert_id=alert.id, sink=body.sink, state="pending", tries=0, next_try_at=utcnow(),
                                 last_error="")
        s.add(delivery)
        s.flush()
        alert_id, delivery_id = alert.id, delivery.id
    Dispatcher(rt.sessions, sinks, parse_routes(rt.settings.alert_routes), max_tries=1).deliver(delivery_id)
    with transaction(rt.sessions) as s:
        a = s.get(Alert, alert_id)
        assert a is not None
        return alert_view(a, list(s.scalars(select(AlertDelivery).where(AlertDelivery.alert_id == alert_id))))
