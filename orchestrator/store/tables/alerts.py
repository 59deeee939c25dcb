"""The alert outbox and its deliveries to each sink."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.store.tables.base import Base, BigIntPK


class Alert(Base):
    """The outbox: written in the same transaction as the change that caused the alert."""

    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime]
    routed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class AlertDelivery(Base):
    """One alert to one sink: retried with backoff until delivered or out of tries."""

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    sink: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None]
    __table_args__ = (UniqueConstraint("alert_id", "sink"), Index("ix_deliveries_due", "state", "next_try_at"))
