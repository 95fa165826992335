"""The named reads of the ledger import and the summary report (``Queries.ledger_apps``,
``events_in``, ``evidence_in``, ``findings_in``), the same on SQLite and PostgreSQL: plain
records of :mod:`appcase.ports`, in a stated order, limited to the prefectures asked for."""

from __future__ import annotations

from appcase.ports import EvidenceRecord, FindingRecord, StoredApp, StoredEvent
from appcase.states import State
from appcase.workflow.engine import CaseEngine
from tests.builders import drive

CHANGSHA, ZHUZHOU = "430100", "430200"


def test_reads_of_the_cases_in_some_prefectures(engine: CaseEngine) -> None:
    judged = drive(engine, State.JUDGED, n=0)
    flagged = drive(engine, State.FLAGGED, n=1)
    campaign = engine.campaign.id
    with engine.storage.reading() as q:
        apps = q.ledger_apps(campaign)
        events = q.events_in(campaign, [CHANGSHA])
        evidence = q.evidence_in(campaign, [CHANGSHA])
        findings = q.findings_in(campaign, [CHANGSHA])
        elsewhere = (
            q.events_in(campaign, [ZHUZHOU]),
            q.evidence_in(campaign, [ZHUZHOU]),
            q.findings_in(campaign, [ZHUZHOU]),
            q.events_in("another-campaign", [CHANGSHA]),
        )
    assert [(type(a), case_id) for a, case_id in apps] == [
        (StoredApp, judged.id),
        (StoredApp, flagged.id),
    ]
    assert [a.name for a, _ in apps] == [judged.app.name, flagged.app.name]
    assert all(isinstance(e, StoredEvent) for e in events)
    assert [(e.case_id, e.seq, e.event) for e in events] == [
        (judged.id, 1, "survey"),
        (judged.id, 2, "flag"),
        (judged.id, 3, "judge"),
        (flagged.id, 1, "survey"),
        (flagged.id, 2, "flag"),
    ]
    assert [e.hash for e in events] == [
        e.hash for cid in (judged.id, flagged.id) for e in engine.history(cid)
    ]
    assert all(isinstance(e, EvidenceRecord) for e in evidence)
    assert [(e.case_id, e.number, e.harm_category) for e in evidence] == [
        (judged.id, 1, "vulgar_pornographic"),
        (flagged.id, 1, "vulgar_pornographic"),
    ]
    judge = next(e for e in events if e.event == "judge")
    assert findings == [
        FindingRecord(judged.id, judge.position, "vulgar_pornographic", "serious", False, [1], "")
    ]
    assert elsewhere == ([], [], [], [])
