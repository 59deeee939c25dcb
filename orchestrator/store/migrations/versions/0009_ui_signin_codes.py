"""ui sign-in codes: one-time, short-lived codes that sign the dashboard in without a token in the URL

Revision ID: 0009_ui_signin_codes
Revises: 0008_ledger_indexes
Create Date: 2026-12-07 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.store.types

revision = "0009_ui_signin_codes"
down_revision = "0008_ledger_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_signin_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=24), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("created_at", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", orchestrator.store.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code_hash"),
    )


def downgrade() -> None:
    op.drop_table("ui_signin_codes")
