"""job secrets: named, Fernet-encrypted values delivered only to a job's agent

Revision ID: 0006_job_secrets
Revises: 0005_energy
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.store.types

revision = "0006_job_secrets"
down_revision = "0005_energy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_secrets",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "name"),
    )


def downgrade() -> None:
    op.drop_table("job_secrets")
