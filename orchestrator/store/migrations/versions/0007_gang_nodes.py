"""gang nodes: an attempt's node count; each instance's rank, address, heartbeat and exit code

Revision ID: 0007_gang_nodes
Revises: 0006_job_secrets
Create Date: 2026-12-02 12:00:00

Server defaults make every existing attempt a one-node gang and every existing instance its node 0, so a
daemon upgraded mid-run keeps reconciling what it launched before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.store.types

revision = "0007_gang_nodes"
down_revision = "0006_job_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("nodes", sa.Integer(), server_default="1", nullable=False))
    op.add_column("instances", sa.Column("node", sa.Integer(), server_default="0", nullable=False))
    op.add_column("instances", sa.Column("node_ip", sa.String(length=64), nullable=True))
    op.add_column("instances", sa.Column("last_heartbeat_at", orchestrator.store.types.UTCDateTime(),
                                         nullable=True))
    op.add_column("instances", sa.Column("exit_code", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        for column in ("exit_code", "last_heartbeat_at", "node_ip", "node"):
            batch.drop_column(column)
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("nodes")
