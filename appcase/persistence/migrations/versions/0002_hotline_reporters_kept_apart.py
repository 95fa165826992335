"""Hotline reporters (举报人) kept apart from the case history; evidence keeps a reference.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reporters",
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_reporters_case_id_cases")),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_reporters")),
    )
    with op.batch_alter_table("reporters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reporters_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporter_ref", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("reporter_ref")

    with op.batch_alter_table("reporters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reporters_case_id"))

    op.drop_table("reporters")
