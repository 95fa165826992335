"""Indexes so that no command reads the whole apps, cases or events table.

- ``ix_apps_name`` and ``ix_apps_icp_filing``: the repeat-offender count of a judgment
  (D3) finds the earlier cases of the same app (same name or ICP filing) or operator (same
  credit code, already indexed) from the apps, then their judgments by case; without them
  it read every event of every campaign.
- ``ix_cases_campaign`` (campaign, id): a campaign's cases in id order (``list``, ``list
  --limit``, ``--as-of`` lists) without sorting them all first.
- ``ix_cases_judicial`` (campaign, judicial state, id): ``list --judicial`` and
  ``--referred``.
- ``ix_cases_last_event`` (campaign, last event's instant, id): ``list --phase`` (a
  window of last events) and ``list --sort last-event``.
- ``ix_cases_prefecture_id`` (campaign, prefecture, id): ``list --sort prefecture`` walks
  it in order (``ix_cases_prefecture`` ends with the state, so the ids had to be sorted).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_apps_name", "apps", ["name"])
    op.create_index("ix_apps_icp_filing", "apps", ["icp_filing"])
    op.create_index("ix_cases_campaign", "cases", ["campaign_id", "id"])
    op.create_index("ix_cases_judicial", "cases", ["campaign_id", "judicial_state", "id"])
    op.create_index("ix_cases_last_event", "cases", ["campaign_id", "last_occurred_at", "id"])
    op.create_index("ix_cases_prefecture_id", "cases", ["campaign_id", "prefecture", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_prefecture_id", table_name="cases")
    op.drop_index("ix_cases_last_event", table_name="cases")
    op.drop_index("ix_cases_judicial", table_name="cases")
    op.drop_index("ix_cases_campaign", table_name="cases")
    op.drop_index("ix_apps_icp_filing", table_name="apps")
    op.drop_index("ix_apps_name", table_name="apps")
