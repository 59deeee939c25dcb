"""bootstrap claims: the once-only exchange of a bootstrap token; each instance's cloud-unique id

Revision ID: 0011_bootstrap_claims
Revises: 0010_transfer_samples
Create Date: 2026-12-07 23:30:00

Why: the start-up script no longer carries the agent token (cloud metadata is readable by anyone with
DescribeInstanceAttribute / instances.get and by every process on the VM); it carries a bootstrap token that
is exchanged once for it. The row of `bootstrap_claims` is what makes it once-only, in the database so that a
daemon killed mid-exchange still refuses the second one. `instances.uid` is the cloud's own id of the machine
(EC2 instance id, GCE numeric id, Azure vmId), what the agent's identity proof is checked against.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orchestrator.store.types

revision = "0011_bootstrap_claims"
down_revision = "0010_transfer_samples"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bootstrap_claims",
        sa.Column("attempt_id", sa.String(length=48), nullable=False),
        sa.Column("node", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("claim_hash", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=128), nullable=False),
        sa.Column("claimed_at", orchestrator.store.types.UTCDateTime(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"]),
        sa.PrimaryKeyConstraint("attempt_id", "node"),
    )
    op.add_column("instances", sa.Column("uid", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("uid")
    op.drop_table("bootstrap_claims")
