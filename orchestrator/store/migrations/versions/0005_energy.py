"""energy entries: per-attempt, per-day energy integrated from heartbeats

Revision ID: 0005_energy
Revises: 0004_stop_requests
Create Date: 2026-11-28 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.store.types

revision = "0005_energy"
down_revision = "0004_stop_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "energy_entries",
        sa.Column("attempt_id", sa.String(length=48), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=True),
        sa.Column("cloud", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("gpu_measured_wh", sa.Float(), nullable=False),
        sa.Column("gpu_estimated_wh", sa.Float(), nullable=False),
        sa.Column("host_wh", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("last_at", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.Column("last_gpu_watts", sa.Float(), nullable=False),
        sa.Column("last_host_watts", sa.Float(), nullable=False),
        sa.Column("last_measured", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("attempt_id", "day"),
    )
    with op.batch_alter_table("energy_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_energy_entries_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_energy_entries_team"), ["team"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("energy_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_energy_entries_team"))
        batch_op.drop_index(batch_op.f("ix_energy_entries_job_id"))
    op.drop_table("energy_entries")
