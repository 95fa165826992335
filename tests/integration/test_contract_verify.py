"""Verification, on SQLite and on PostgreSQL: every chain recomputes and every case's stored
state equals the replay of its events; a case row edited behind the engine's back is named."""

from __future__ import annotations

from sqlalchemy import update

from appcase.persistence.models import CaseRow
from appcase.states import State
from appcase.workflow.engine import CaseEngine
from appcase.workflow.verify import verify
from tests.builders import drive
from tests.dbcheck import orm


def test_every_case_verifies(engine: CaseEngine) -> None:
    states = [s for s in State if s is not State.NEW]
    ids = [drive(engine, s, n=i).id for i, s in enumerate(states)]
    report = verify(engine)
    assert report.ok, report.problems
    assert report.cases == len(ids)
    assert report.events == sum(len(engine.history(c)) for c in ids)
    assert verify(engine, ids[0]).cases == 1


def test_a_case_row_changed_outside_the_engine_is_named(engine: CaseEngine) -> None:
    moved = drive(engine, "pledged", n=0).id
    headless = drive(engine, "flagged", n=1).id
    intact = drive(engine, "judged", n=2).id
    with orm(engine) as repo:
        repo.execute(update(CaseRow).where(CaseRow.id == moved).values(state="rectified"))
        repo.execute(update(CaseRow).where(CaseRow.id == headless).values(head_hash="0" * 64))
    found = {(case_id, kind) for case_id, _seq, kind, _detail in verify(engine).problems}
    assert found == {(moved, "state_mismatch"), (headless, "head_mismatch")}
    assert verify(engine, intact).ok
