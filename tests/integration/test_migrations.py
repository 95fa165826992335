"""Alembic is the only way the schema is made, and it makes the schema the models describe.

On each engine an empty database is upgraded to the newest revision; autogenerate then finds
no difference between the models and the migrated schema, the events table is append-only by
trigger (UPDATE and DELETE are refused, and TRUNCATE on PostgreSQL), and a downgrade to
nothing followed by an upgrade gives the same schema again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, MetaData, String, inspect, text
from sqlalchemy.exc import DBAPIError

from appcase.errors import DatabaseNotReady
from appcase.persistence.db import (
    VERSION_TABLE,
    create_db_engine,
    current_revision,
    downgrade,
    ensure_current,
    head_revision,
    upgrade,
)
from appcase.persistence.models import Base
from appcase.workflow.engine import CaseEngine
from tests.builders import app, local
from tests.dbcheck import db

APPEND_ONLY = "appcase: events are append-only"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def migrated(db_url: str) -> Iterator[Engine]:
    """An empty database on each engine, upgraded to head."""
    engine = create_db_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def differences(engine: Engine, metadata: MetaData) -> list[Any]:
    """What autogenerate would write to make the database match ``metadata``."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "version_table": VERSION_TABLE,
            },
        )
        return list(compare_metadata(ctx, metadata))


def triggers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
                )
            )
        else:
            rows = conn.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                    "AND tgrelid = 'events'::regclass"
                )
            )
        return {r[0] for r in rows}


EVENT_TRIGGERS = {
    "sqlite": {"events_no_update", "events_no_delete"},
    "postgresql": {"events_append_only", "events_no_truncate"},
}


def test_an_empty_database_is_not_ready(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        assert current_revision(engine) is None
        with pytest.raises(DatabaseNotReady, match="has no appcase schema") as not_ready:
            ensure_current(engine)
        assert not_ready.value.remedy == "create"
        assert "create the database" in not_ready.value.message
    finally:
        engine.dispose()


def test_upgrade_to_head_gives_the_models_schema(migrated: Engine) -> None:
    assert current_revision(migrated) == head_revision()
    ensure_current(migrated)
    assert differences(migrated, Base.metadata) == []
    assert set(Base.metadata.tables) <= set(inspect(migrated).get_table_names())


def test_the_comparison_sees_a_column_the_migrations_lack(migrated: Engine) -> None:
    other = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(other)
    other.tables["cases"].append_column(Column("assignee", String(64), nullable=True))
    found = differences(migrated, other)
    assert [(d[0], d[2], d[3].name) for d in found] == [("add_column", "cases", "assignee")]


def test_the_events_table_has_its_append_only_triggers(migrated: Engine) -> None:
    assert EVENT_TRIGGERS[migrated.dialect.name] <= triggers(migrated)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE events SET reason = 'edited'", "DELETE FROM events"],
)
def test_events_refuse_update_and_delete(
    make_engine: Callable[[str], CaseEngine], db_url: str, statement: str
) -> None:
    engine = make_engine(db_url)
    case = engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    with (
        pytest.raises(DBAPIError, match=re.escape(APPEND_ONLY)),
        db(engine).begin() as conn,
    ):
        conn.execute(text(statement))
    assert [e.hash for e in engine.history(case.id)] == [case.head_hash]


@pytest.mark.postgres
def test_events_refuse_truncate_on_postgres(
    make_engine: Callable[[str], CaseEngine], postgres_url: str
) -> None:
    engine = make_engine(postgres_url)
    engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    with (
        pytest.raises(DBAPIError, match=re.escape(APPEND_ONLY)),
        db(engine).begin() as conn,
    ):
        conn.execute(text("TRUNCATE events CASCADE"))
    assert len(engine.list_cases()) == 1


def test_downgrade_to_nothing_and_upgrade_again(migrated: Engine) -> None:
    downgrade(migrated, "base")
    assert current_revision(migrated) is None
    assert set(inspect(migrated).get_table_names()) <= {VERSION_TABLE}
    upgrade(migrated)
    assert differences(migrated, Base.metadata) == []
    assert EVENT_TRIGGERS[migrated.dialect.name] <= triggers(migrated)


def test_no_code_creates_tables_outside_the_migrations() -> None:
    """(The benchmarks' peer engines have schemas of their own and are not looked at.)"""
    pattern = re.compile(r"\.create_all\(|\.create\(\s*(bind|engine|conn)")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("appcase", "tests", "tools")
        if (ROOT / folder).is_dir()
        for path in (ROOT / folder).rglob("*.py")
        if path != Path(__file__).resolve() and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_sweep_reads_each_batch_by_the_keyset_index(make_engine: Any, sqlite_url: str) -> None:
    """Migration 0004: a sweep batch (pledged, overdue, ``id > :after``, by id) walks the
    ``(campaign, state, id)`` index and needs no sort, so a batch costs its own rows rather
    than every remaining overdue case (the sweep was quadratic in the number of cases)."""
    from sqlalchemy import event

    from appcase.ports import CaseFilter

    engine: CaseEngine = make_engine(sqlite_url)
    for after in ("", "HN2018-430100-0001"):  # the first batch, and a later one
        flt = CaseFilter(
            states=("pledged",), pledge_due_before=local(4, 1), after_id=after, limit=500
        )
        issued: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
            issued.append((statement, params))  # noqa: B023 - used before the next round

        event.listen(db(engine), "before_cursor_execute", capture)
        try:
            with engine.storage.transaction() as repo:
                repo.case_heads(engine.campaign.id, flt)  # the sweep's read
        finally:
            event.remove(db(engine), "before_cursor_execute", capture)
        [(statement, params)] = [(s, p) for s, p in issued if "FROM cases" in s]
        with db(engine).connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            plan = " / ".join(r[3] for r in rows)
        assert "USING INDEX ix_cases_keyset" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    assert "TEMP B-TREE" not in plan, plan
    bind = db(engine)
    downgrade(bind, "0003")
    assert "ix_cases_keyset" not in {i["name"] for i in inspect(bind).get_indexes("cases")}
    upgrade(bind)
    assert "ix_cases_keyset" in {i["name"] for i in inspect(bind).get_indexes("cases")}
