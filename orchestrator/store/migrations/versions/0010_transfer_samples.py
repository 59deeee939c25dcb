"""data gravity: bucket regions looked up once, measured transfer rates per path

Revision ID: 0010_transfer_samples
Revises: 0009_ui_signin_codes
Create Date: 2026-12-07 23:40:00

Why: placement ranks offers by the expected cost to finish, egress and transfer time included; it needs the
region of each job's bucket (asked of the storage API once, then kept) and the rates this daemon measured on
each (store region, instance region) path, which replace the default rate after enough samples.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.types import UTCDateTime

revision = "0010_transfer_samples"
down_revision = "0009_ui_signin_codes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_regions",
        sa.Column("bucket", sa.String(length=320), nullable=False),
        sa.Column("cloud", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("looked_up_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("bucket"),
    )
    op.create_table(
        "transfer_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("attempt_id", sa.String(length=48), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("store_cloud", sa.String(length=32), nullable=False),
        sa.Column("store_region", sa.String(length=64), nullable=False),
        sa.Column("cloud", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("instance_type", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transfer_samples", schema=None) as batch_op:
        batch_op.create_index("ix_transfer_path", ["store_cloud", "store_region", "cloud", "region", "at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transfer_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_transfer_path")
    op.drop_table("transfer_samples")
    op.drop_table("store_regions")
