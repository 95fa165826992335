"""Governance: the administrators' log and override grants.

``admin_acts`` records every actor registered and every token issued or revoked, by whom
and when, hash-chained by ``seq``; like the events table it is append-only (triggers
refuse UPDATE and DELETE, and TRUNCATE on PostgreSQL). ``override_grants`` holds the
overrides an authorising officer granted, each for one case (or, for a survey, one
prefecture) and one event, until it expires, is revoked or is used.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APPEND_ONLY_MESSAGE = "appcase: the administrators log is append-only"

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER admin_acts_no_update BEFORE UPDATE ON admin_acts
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END""",
    f"""CREATE TRIGGER admin_acts_no_delete BEFORE DELETE ON admin_acts
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END""",
]

_POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION appcase_admin_acts_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$""",
    """CREATE TRIGGER admin_acts_append_only BEFORE UPDATE OR DELETE ON admin_acts
        FOR EACH ROW EXECUTE FUNCTION appcase_admin_acts_append_only()""",
    """CREATE TRIGGER admin_acts_no_truncate BEFORE TRUNCATE ON admin_acts
        FOR EACH STATEMENT EXECUTE FUNCTION appcase_admin_acts_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "admin_acts",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_admin_acts")),
    )
    op.create_table(
        "override_grants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("prefecture", sa.String(length=6), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("authoriser_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.String(length=64), nullable=True),
        sa.Column("used_position", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["authoriser_id"], ["actors.id"], name=op.f("fk_override_grants_authoriser_id_actors")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_override_grants_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_override_grants")),
    )
    with op.batch_alter_table("override_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_override_grants_case_id"), ["case_id"], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_TRIGGERS if dialect == "sqlite" else _POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS admin_acts_no_update")
        op.execute("DROP TRIGGER IF EXISTS admin_acts_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS admin_acts_append_only ON admin_acts")
        op.execute("DROP TRIGGER IF EXISTS admin_acts_no_truncate ON admin_acts")
        op.execute("DROP FUNCTION IF EXISTS appcase_admin_acts_append_only()")
    with op.batch_alter_table("override_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_override_grants_case_id"))
    op.drop_table("override_grants")
    op.drop_table("admin_acts")
