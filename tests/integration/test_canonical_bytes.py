"""Each event stores the bytes its hash was taken over (``events.canonical``), on every
write path; migration 0008 backfills them for events written before, verifying each: an
event whose columns no longer give its hash is left without bytes, never blessed, and
``verify`` still names it."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from appcase.audit.records import hashed_record, record_bytes
from appcase.persistence.db import current_revision, downgrade, head_revision, upgrade
from appcase.persistence.models import EventRow
from appcase.persistence.repository import Repository
from appcase.workflow.engine import CaseEngine
from appcase.workflow.hotline import report_hotline
from appcase.workflow.sweep import sweep
from appcase.workflow.verify import verify
from tests.builders import app, drive, local
from tests.dbcheck import db
from tests.tampering import drop_triggers

EVENTS = EventRow.__table__


def stored(engine: CaseEngine) -> dict[tuple[str, int], bytes | None]:
    """``(case_id, seq) -> canonical bytes`` of every stored event."""
    with db(engine).connect() as conn:
        rows = conn.execute(select(EVENTS.c.case_id, EVENTS.c.seq, EVENTS.c.canonical))
        return {(c, s): b for c, s, b in rows}


def test_every_event_stores_the_bytes_it_was_hashed_over(
    make_engine: Callable[[str], CaseEngine], db_url: str
) -> None:
    engine = make_engine(db_url)
    drive(engine, "rectified")
    drive(engine, "pledged", n=1)
    outcomes = list(sweep(engine, local(4, 1)))  # a batch write: the sweep's own path
    assert [o.status for o in outcomes] == ["escalated"]
    reported = engine.survey(app(2), actor="cs-cac", at=local(2, 20)).id
    report = {"harm_category": "vulgar_pornographic", "description": "举报内容"}
    report_hotline(engine, reported, report, actor="cs-cac", at=local(2, 21))
    kept = stored(engine)
    assert len(kept) == 6 + 6 + 2  # rectified; pledged and escalated; surveyed and flagged
    for case_id in {c for c, _ in kept}:
        for ev in engine.history(case_id):
            data = kept[(case_id, ev.seq)]
            assert data is not None
            assert hashlib.sha256(data).hexdigest() == ev.hash


def test_0008_backfills_verified_bytes_and_leaves_a_tampered_event_empty(
    make_engine: Callable[[str], CaseEngine], db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(db_url)
    tampered = drive(engine, "judged").id
    intact = drive(engine, "pledged", n=1).id
    bind = db(engine)
    downgrade(bind, "0007")
    assert "canonical" not in {c["name"] for c in _columns(engine)}
    with bind.begin() as conn:
        drop_triggers(conn)
        conn.execute(
            update(EVENTS)
            .where(EVENTS.c.case_id == tampered, EVENTS.c.seq == 2)
            .values(reason="edited before the upgrade")
        )
    with caplog.at_level(logging.WARNING, logger="appcase.migrations"):
        upgrade(bind)
    assert current_revision(bind) == head_revision()  # 0008, and the migrations after it
    kept = stored(engine)
    assert kept[(tampered, 2)] is None
    assert f"event 2 of case {tampered}" in caplog.text
    with bind.connect() as conn:
        rows = conn.execute(select(EVENTS).order_by(EVENTS.c.id)).mappings().all()
    for row in rows:
        if (row["case_id"], row["seq"]) == (tampered, 2):
            continue
        assert row["canonical"] == record_bytes(hashed_record(row)), (row["case_id"], row["seq"])
    assert sum(1 for c, _ in kept if c == intact) == 5
    report = verify(engine)
    assert [(c, s, k) for c, s, k, _ in report.problems] == [(tampered, 2, "edited")]
    assert any("without stored canonical bytes" in n for n in report.notes), report.notes


def _columns(engine: CaseEngine) -> list[dict[str, object]]:
    from sqlalchemy import inspect

    return list(inspect(db(engine)).get_columns("events"))


def test_verify_proves_intact_events_by_their_bytes_alone(
    make_engine: Callable[[str], CaseEngine], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No intact case is read again from its decoded columns: one streamed query serves
    (while the cases are read in batches, here of one case)."""
    engine = make_engine(db_url)
    drive(engine, "rectified")
    drive(engine, "taken_down", n=1)
    drive(engine, "surveyed", n=2)

    def slow_path(*_: object) -> None:
        raise AssertionError("an intact case was checked from its columns")

    monkeypatch.setattr(Repository, "events_of", slow_path)
    report = verify(engine, batch_size=1)
    assert report.ok, report.problems
    assert (report.cases, report.events) == (3, 12)
    assert not any("canonical bytes" in n for n in report.notes)


def test_0008_leaves_a_payload_nested_past_the_recursion_limit_empty() -> None:
    import importlib.util
    from pathlib import Path

    import appcase.persistence.migrations.versions as versions

    path = Path(versions.__file__).parent / "0008_event_canonical_bytes.py"
    spec = importlib.util.spec_from_file_location("m0008", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = {"occurred_at": "2018-03-01T02:00:00", "recorded_at": "2018-03-01T02:00:00"}
    assert module.canonical_of({**row, "payload": "[" * 100_000, "override": None}) is None
