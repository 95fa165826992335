"""The named read of the ledger import (``Queries.ledger_apps``), the same on SQLite and
PostgreSQL: plain records of :mod:`appcase.ports`, by case id. (The summary report reads
through ``cases``, ``events_of`` and ``records_of``, a batch of cases at a time; its
results are checked in ``test_report_summary.py``.)"""

from __future__ import annotations

from appcase.ports import StoredApp
from appcase.states import State
from appcase.workflow.engine import CaseEngine
from tests.builders import drive


def test_the_ledger_read_gives_every_app_with_its_case(engine: CaseEngine) -> None:
    judged = drive(engine, State.JUDGED, n=0)
    flagged = drive(engine, State.FLAGGED, n=1)
    with engine.storage.reading() as q:
        apps = q.ledger_apps(engine.campaign.id)
        elsewhere = q.ledger_apps("another-campaign")
    assert [(type(a), case_id) for a, case_id in apps] == [
        (StoredApp, judged.id),
        (StoredApp, flagged.id),
    ]
    assert [a.name for a, _ in apps] == [judged.app.name, flagged.app.name]
    assert elsewhere == []
