"""Webhook relay cursors and leases: one row per campaign and receiver.

``position`` is the last feed position the receiver acknowledged; the lease columns let one
relay at a time deliver to a receiver; ``failing_since``, ``failures`` and ``last_error``
show a receiver that keeps failing. No other table is touched.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relay_cursors",
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_relay_cursors_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "receiver", name=op.f("pk_relay_cursors")),
    )


def downgrade() -> None:
    op.drop_table("relay_cursors")
