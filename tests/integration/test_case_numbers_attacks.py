"""Case numbers on a damaged or busy base: a counter row that holds no case number, surveys
and bulk surveys at once, migration 0011 on ids it cannot read. A new case always gets the
next free number of its prefecture (``0001`` onwards, below 2**40), or a typed error."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from appcase.errors import PersistenceError
from appcase.persistence.models import CaseNumberRow, CaseRow
from appcase.workflow.engine import CaseEngine
from tests.builders import local, unique_app
from tests.dbcheck import db

NUMBERS = CaseNumberRow.__table__
CASES = CaseRow.__table__
AT = local(2, 20)


def counters(engine: CaseEngine) -> dict[str, int]:
    with db(engine).connect() as conn:
        rows = conn.execute(select(NUMBERS.c.prefecture, NUMBERS.c.last_number))
        return {str(p): int(n) for p, n in rows}


def case_ids(engine: CaseEngine) -> list[str]:
    with db(engine).connect() as conn:
        return sorted(conn.execute(select(CASES.c.id)).scalars())


def survey(engine: CaseEngine, n: int, prefecture: str = "430100") -> str:
    actor = "cs-cac" if prefecture == "430100" else "zz-cac"
    return engine.survey(unique_app(n, prefecture), actor=actor, at=AT).id


def damage_counter(engine: CaseEngine, value: str) -> None:
    """Write ``value`` (SQL) into Changsha's counter row, below the engine."""
    with db(engine).begin() as conn:
        conn.execute(text(f"UPDATE case_numbers SET last_number = {value}"))


NO_CASE_NUMBER = ["-5", "-1", str(2**40), str(2**63 - 1)]
"""Counter values no case number follows: negative, or at the 2**40 bound and beyond."""


@pytest.mark.parametrize("value", NO_CASE_NUMBER)
def test_a_counter_that_holds_no_case_number_is_rebuilt_from_the_case_ids(
    engine: CaseEngine, value: str
) -> None:
    for n in range(3):
        survey(engine, n)
    damage_counter(engine, value)
    assert survey(engine, 3) == "HN2018-430100-0004"
    assert counters(engine) == {"430100": 4}
    assert case_ids(engine) == [f"HN2018-430100-{n:04d}" for n in range(1, 5)]


@pytest.mark.parametrize("value", NO_CASE_NUMBER)
def test_the_bulk_survey_rebuilds_a_counter_that_holds_no_case_number(
    engine: CaseEngine, value: str
) -> None:
    for n in range(3):
        survey(engine, n)
    damage_counter(engine, value)
    result = engine.survey_batch([unique_app(8), unique_app(9)], actor="cs-cac", at=AT)
    assert result.case_ids == ["HN2018-430100-0004", "HN2018-430100-0005"]
    assert counters(engine) == {"430100": 5}


def test_a_prefecture_past_its_last_case_number_is_refused_writing_nothing(
    engine: CaseEngine,
) -> None:
    """Case numbers are below 2**40: a counter at the last one gives no other."""
    survey(engine, 0)
    damage_counter(engine, str(2**40 - 1))
    with pytest.raises(PersistenceError, match="last case number"):
        survey(engine, 1)
    with pytest.raises(PersistenceError, match="last case number"):
        engine.survey_batch([unique_app(8)], actor="cs-cac", at=AT)
    assert case_ids(engine) == ["HN2018-430100-0001"]
    assert counters(engine) == {"430100": 2**40 - 1}


@pytest.mark.parametrize("value", ["'abc'", "''", "x'00'"])
def test_a_counter_that_is_not_a_number_on_sqlite_is_rebuilt(
    sqlite_engine: CaseEngine, value: str
) -> None:
    """SQLite keeps whatever a hand edit writes into an integer column."""
    for n in range(2):
        survey(sqlite_engine, n)
    damage_counter(sqlite_engine, value)
    assert survey(sqlite_engine, 2) == "HN2018-430100-0003"
    assert counters(sqlite_engine) == {"430100": 3}
    result = sqlite_engine.survey_batch([unique_app(9)], actor="cs-cac", at=AT)
    assert result.case_ids == ["HN2018-430100-0004"]
