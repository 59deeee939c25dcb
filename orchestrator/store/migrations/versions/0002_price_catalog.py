"""price catalog (cached offers, refresh state) and placement blocks

Revision ID: 0002_price_catalog
Revises: 0001
Create Date: 2026-11-27 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.store.types

revision = "0002_price_catalog"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("cloud", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("instance_type", sa.String(length=96), nullable=False),
        sa.Column("spot", sa.Boolean(), nullable=False),
        sa.Column("gpu_model", sa.String(length=48), nullable=False),
        sa.Column("gpu_count", sa.Integer(), nullable=False),
        sa.Column("gpu_memory_gb", sa.Float(), nullable=False),
        sa.Column("vcpus", sa.Float(), nullable=False),
        sa.Column("memory_gb", sa.Float(), nullable=False),
        sa.Column("price_per_hour", sa.Float(), nullable=False),
        sa.Column("on_demand_price", sa.Float(), nullable=True),
        sa.Column("interruption_prior", sa.Float(), nullable=True),
        sa.Column("fetched_at", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "cloud", "region", "zone", "instance_type", "spot"),
    )
    op.create_table(
        "price_sources",
        sa.Column("cloud", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("fetched_at", orchestrator.store.types.UTCDateTime(), nullable=True),
        sa.Column("attempted_at", orchestrator.store.types.UTCDateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("updated_at", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("cloud", "source"),
    )
    op.create_table(
        "pool_blocks",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("cloud", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("blocked_until", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("pool_blocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pool_blocks_blocked_until"), ["blocked_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pool_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pool_blocks_blocked_until"))
    op.drop_table("pool_blocks")
    op.drop_table("price_sources")
    op.drop_table("offers")
