"""ledger indexes: open/recently closed instances by ended_at; each instance's watermark from an index

Revision ID: 0008_ledger_indexes
Revises: 0007_gang_nodes
Create Date: 2026-12-03 12:00:00

Why: the ledger's pending-instance query and budget windows select instances by `ended_at` (NULL
= open, or ended after the window's start), and an instance's watermark is max(end) of its
entries; both used to be found by reading every row ever recorded.
"""

from __future__ import annotations

from alembic import op

revision = "0008_ledger_indexes"
down_revision = "0007_gang_nodes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instances_ended_at"), ["ended_at"], unique=False)
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_instance_end", ["provider", "instance_id", "end"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_instance_end")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_ended_at"))
