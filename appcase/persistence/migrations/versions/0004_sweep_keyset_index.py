"""An index for reading a campaign's cases of one state in case id order.

The sweep reads overdue pledged cases in keyset batches (``state = 'pledged' AND id > :after
ORDER BY id LIMIT n``). With only ``ix_cases_sweep`` (campaign, state, pledge due instant)
every batch read all remaining overdue cases and sorted them, so a sweep took time
quadratic in the number of cases; with this index each batch reads its own rows, in order.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_keyset", "cases", ["campaign_id", "state", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_keyset", table_name="cases")
