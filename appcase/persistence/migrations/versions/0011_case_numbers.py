"""``case_numbers``: the highest case number given per campaign and prefecture.

A survey found the next case number of its prefecture by probing which ids exist (a few
primary-key statements that grow, slowly, with the prefecture: 1.26 x the cost of a
survey on an empty base once the base holds 1,000,000 events, benchmarks item 9). It now
updates one row of this table instead.

The backfill gives every (campaign, prefecture) that has cases the highest number among
its case ids (``<prefix>-<prefecture>-<number>``, the case's own prefecture), read in one
streamed pass over ``cases`` keeping one integer per prefecture. An id of another form (a
tail that is not a number, another prefecture's code) is skipped with a warning (a survey
that later collides with it is caught and retried from the ids).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_log = logging.getLogger("appcase.migrations")

_BATCH = 10_000
"""Rows fetched at a time by the backfill, and rows inserted at a time."""
_DIGITS = 12
"""Longest case number read from an id (appcase gives numbers far below 10**12)."""


def upgrade() -> None:
    op.create_table(
        "case_numbers",
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("prefecture", sa.String(length=6), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_case_numbers_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "prefecture", name=op.f("pk_case_numbers")),
    )
    bind = op.get_bind()
    highest: dict[tuple[str, str], int] = {}
    rows = bind.execute(
        sa.text("SELECT campaign_id, prefecture, id FROM cases").execution_options(
            stream_results=True, yield_per=_BATCH
        )
    )
    for campaign_id, prefecture, case_id in rows:
        # <prefix>-<prefecture>-<number>, the case's own prefecture: the ids a survey names
        prefix, middle, tail = str(case_id).rpartition(f"-{prefecture}-")
        if not (prefix and middle and tail.isascii() and tail.isdigit() and len(tail) <= _DIGITS):
            _log.warning("case %r has no case number at the end of its id; skipped", case_id)
            continue
        key = (campaign_id, prefecture)
        highest[key] = max(highest.get(key, 0), int(tail))
    table = sa.table(
        "case_numbers",
        sa.column("campaign_id", sa.String()),
        sa.column("prefecture", sa.String()),
        sa.column("last_number", sa.Integer()),
    )
    values = [
        {"campaign_id": c, "prefecture": p, "last_number": n} for (c, p), n in highest.items()
    ]
    for start in range(0, len(values), _BATCH):
        bind.execute(sa.insert(table), values[start : start + _BATCH])


def downgrade() -> None:
    op.drop_table("case_numbers")
