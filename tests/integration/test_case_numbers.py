"""Case numbers come from one counter row per prefecture (``case_numbers``): a survey moves
it on by one in its own transaction, the bulk survey claims it once; a missing row is
rebuilt from the case ids, a row behind them is brought up on the survey's retry, and
migration 0011 fills the rows from the cases written before it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import pytest
from sqlalchemy import Table, delete, insert, select, update

from appcase.errors import BatchRejected, GuardRejected
from appcase.persistence.db import downgrade, upgrade
from appcase.persistence.models import AppRow, CaseNumberRow, CaseRow
from appcase.workflow.engine import CaseEngine
from tests.builders import local, unique_app
from tests.dbcheck import db

NUMBERS = cast(Table, CaseNumberRow.__table__)
CASES = cast(Table, CaseRow.__table__)
APPS = cast(Table, AppRow.__table__)
AT = local(2, 20)


def counters(engine: CaseEngine) -> dict[str, int]:
    """``prefecture -> last_number`` of every counter row."""
    with db(engine).connect() as conn:
        rows = conn.execute(select(NUMBERS.c.prefecture, NUMBERS.c.last_number))
        return {p: int(n) for p, n in rows}


def set_counter(engine: CaseEngine, prefecture: str, number: int | None) -> None:
    """Edit (or with ``None`` delete) a prefecture's counter row, below the engine."""
    with db(engine).begin() as conn:
        where = NUMBERS.c.prefecture == prefecture
        if number is None:
            conn.execute(delete(NUMBERS).where(where))
        else:
            conn.execute(update(NUMBERS).where(where).values(last_number=number))


def copy_case(conn: Any, source_id: str, new_id: str) -> None:
    """Insert a case (and its ledger entry) copied from ``source_id`` under ``new_id``."""
    case = dict(conn.execute(select(CASES).where(CASES.c.id == source_id)).one()._mapping)
    listed = dict(conn.execute(select(APPS).where(APPS.c.id == case["app_id"])).one()._mapping)
    del listed["id"]
    listed["name"] += new_id
    app_id = conn.execute(insert(APPS).values(listed)).inserted_primary_key[0]
    conn.execute(insert(CASES).values({**case, "id": new_id, "app_id": app_id}))


def survey(engine: CaseEngine, n: int, prefecture: str = "430100") -> str:
    actor = "cs-cac" if prefecture == "430100" else "zz-cac"
    return engine.survey(unique_app(n, prefecture), actor=actor, at=AT).id


def test_each_survey_takes_the_next_number_of_its_prefecture(engine: CaseEngine) -> None:
    ids = [survey(engine, 0), survey(engine, 1), survey(engine, 2, "430200"), survey(engine, 3)]
    assert ids == [
        "HN2018-430100-0001",
        "HN2018-430100-0002",
        "HN2018-430200-0001",
        "HN2018-430100-0003",
    ]
    assert counters(engine) == {"430100": 3, "430200": 1}


def test_a_refused_survey_takes_no_number(engine: CaseEngine) -> None:
    survey(engine, 0)
    with pytest.raises(GuardRejected) as refused:
        engine.survey(unique_app(0), actor="cs-cac", at=AT)  # listed already
    assert [r.code for r in refused.value.rejections] == ["not_in_ledger"]
    assert counters(engine) == {"430100": 1}
    assert survey(engine, 1) == "HN2018-430100-0002"


def test_a_missing_counter_is_rebuilt_from_the_case_ids(engine: CaseEngine) -> None:
    for n in range(5):
        survey(engine, n)
    set_counter(engine, "430100", None)
    assert survey(engine, 5) == "HN2018-430100-0006"
    assert counters(engine) == {"430100": 6}


def test_a_counter_behind_the_cases_is_brought_up_to_them(engine: CaseEngine) -> None:
    """A counter edited down (or restored from an older copy) would give a number that is
    taken: the write collides, and the retry counts again from the ids."""
    for n in range(3):
        survey(engine, n)
    set_counter(engine, "430100", 1)
    assert survey(engine, 3) == "HN2018-430100-0004"
    assert counters(engine) == {"430100": 4}


def test_the_bulk_survey_continues_the_counters_and_records_them(engine: CaseEngine) -> None:
    survey(engine, 0)
    apps = [unique_app(10 + i, "430100") for i in range(3)]
    result = engine.survey_batch(apps, actor="cs-cac", at=AT)
    assert result.case_ids == [f"HN2018-430100-{n:04d}" for n in (2, 3, 4)]
    assert counters(engine) == {"430100": 4}
    assert survey(engine, 1) == "HN2018-430100-0005"


def test_the_bulk_survey_brings_a_counter_behind_up_to_the_cases(engine: CaseEngine) -> None:
    for n in range(3):
        survey(engine, n)
    set_counter(engine, "430100", 0)
    result = engine.survey_batch([unique_app(9)], actor="cs-cac", at=AT)
    assert result.case_ids == ["HN2018-430100-0004"]
    assert counters(engine) == {"430100": 4}


def test_a_bulk_survey_refused_in_part_leaves_no_counter_for_a_foreign_prefecture(
    engine: CaseEngine,
) -> None:
    apps = [unique_app(1), unique_app(2, "439900"), unique_app(3)]  # 439900: no prefecture
    result = engine.survey_batch(apps, actor="cs-cac", at=AT, skip_refused=True)
    assert result.case_ids == ["HN2018-430100-0001", None, "HN2018-430100-0002"]
    assert counters(engine) == {"430100": 2}


def test_a_rolled_back_bulk_survey_leaves_the_counter_as_it_was(engine: CaseEngine) -> None:
    survey(engine, 0)
    with pytest.raises(BatchRejected):
        engine.survey_batch([unique_app(1), unique_app(0)], actor="cs-cac", at=AT)
    assert counters(engine) == {"430100": 1}


def test_0011_fills_the_counters_from_the_cases(
    make_engine: Callable[[str], CaseEngine], db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(db_url)
    for n in range(12):
        survey(engine, n)
    for n in range(3):
        survey(engine, 20 + n, "430200")
    bind = db(engine)
    downgrade(bind, "0010")
    with bind.begin() as conn:
        # a case whose id ends in no number (written by hand): skipped, with a warning
        copy_case(conn, "HN2018-430200-0003", "HN2018-430200-99x")
    with caplog.at_level(logging.WARNING, logger="appcase.migrations"):
        upgrade(bind)
    assert counters(engine) == {"430100": 12, "430200": 3}
    assert "'HN2018-430200-99x' has no case number" in caplog.text
    assert survey(engine, 30) == "HN2018-430100-0013"
    assert survey(engine, 31, "430200") == "HN2018-430200-0004"
