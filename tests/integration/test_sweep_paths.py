"""The sweep's batch path and its per-case path give the same outcomes, the same events and
the same hashes, on SQLite and on PostgreSQL: two identical databases are swept at the same
instant, one through batches (command-level guards settled once, records from a template,
driver writes), the other forced through the per-case pipeline (every batch write fails, so
each case is redone on its own: the fallback), and every stored row is compared."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appcase.persistence.repository import Repository
from appcase.ports import CaseFilter
from appcase.workflow.engine import CaseEngine
from appcase.workflow.pipeline import Pipeline
from appcase.workflow.sweep import sweep
from appcase.workflow.verify import verify
from tests.builders import advance, local, unique_app
from tests.conftest import postgres_schema

SWEEP_AT = local(4, 1, 0, 0)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def twin_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two fresh databases on the same engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'batch.sqlite'}", f"sqlite:///{tmp_path / 'cases.sqlite'}"
        return
    base = request.getfixturevalue("postgres_base_url")
    with postgres_schema(base) as first, postgres_schema(base) as second:
        yield first, second


def _scene(engine: CaseEngine) -> None:
    """Overdue pledges, one referred to the judiciary before the sweep (its judicial track
    has moved), one with an event after the sweep's instant (refused), and cases the sweep
    must leave alone."""
    for n in range(5):
        case = engine.survey(unique_app(n), actor="cs-cac", at=local(2, 20, 9))
        advance(engine, case.id, "pledged", illegal=n in (1, 3))
    for n, at in ((1, local(3, 30)), (3, local(4, 2))):
        case_id = engine.list_cases()[n].id
        engine.fire(case_id, "refer", actor="cs-cac", payload={}, at=at, reason="涉嫌违法")
    for n, state in ((5, "judged"), (6, "rectified")):
        case = engine.survey(unique_app(n), actor="cs-cac", at=local(2, 20, 9))
        advance(engine, case.id, state)


def _stored(engine: CaseEngine) -> tuple[list[Any], list[Any]]:
    """Every case row and every event row with the bytes its hash was taken over."""
    with engine.storage.reading() as repo:
        cases = repo.case_states(engine.campaign.id, CaseFilter())
        events = list(repo.sealed_events(engine.campaign.id))
    return cases, events


def test_the_batch_and_the_per_case_paths_store_the_same_rows(
    make_engine: Callable[[str], CaseEngine],
    twin_urls: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batched, per_case = (make_engine(url) for url in twin_urls)
    for engine in (batched, per_case):
        _scene(engine)
    assert _stored(batched) == _stored(per_case)

    first = [(o.case_id, o.status, o.detail) for o in sweep(batched, SWEEP_AT, batch_size=2)]

    def failing(*_: Any) -> None:
        raise RuntimeError("the batch write fails")

    runs: list[str] = []
    real_run = Pipeline.run

    def run(self: Pipeline, store: Any, case: Any, *args: Any) -> Any:
        runs.append(case.id)
        return real_run(self, store, case, *args)

    monkeypatch.setattr(Repository, "insert_events", failing)
    monkeypatch.setattr(Pipeline, "run", run)
    second = [(o.case_id, o.status, o.detail) for o in sweep(per_case, SWEEP_AT, batch_size=2)]
    monkeypatch.undo()

    assert [s for _, s, _ in first].count("escalated") == 4
    assert [s for _, s, _ in first].count("refused") == 1
    assert second == first
    assert runs == [case_id for case_id, _, _ in first]  # every case went the per-case way
    cases, events = _stored(batched)
    assert (cases, events) == _stored(per_case)
    escalations = [e for e in events if e.event == "escalate"]
    assert len(escalations) == 4
    assert all(e.canonical is not None for e in escalations)
    assert {e.hash for e in escalations} == {
        c.head_hash for c in cases if c.event_count and c.state == "escalated_for_takedown"
    }
    assert verify(batched).ok
    assert verify(per_case).ok
