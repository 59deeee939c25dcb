"""stop requests: budget and cap stops that let the job checkpoint first

Revision ID: 0004_stop_requests
Revises: 0003_ledger_alerts
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.store.types

revision = "0004_stop_requests"
down_revision = "0003_ledger_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stop_requests",
        sa.Column("attempt_id", sa.String(length=48), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_at", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.Column("deadline", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("attempt_id"),
    )
    with op.batch_alter_table("stop_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stop_requests_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stop_requests_deadline"), ["deadline"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stop_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stop_requests_deadline"))
        batch_op.drop_index(batch_op.f("ix_stop_requests_job_id"))
    op.drop_table("stop_requests")
