"""The test driver reaches every administrative state (a check of the builders too)."""

from __future__ import annotations

import pytest

from appcase.states import State
from appcase.workflow.engine import CaseEngine
from tests.builders import drive


@pytest.mark.parametrize("state", [s for s in State if s is not State.NEW])
def test_drive_reaches_every_state(engine: CaseEngine, state: State) -> None:
    view = drive(engine, state)
    assert view.state == state.value
    assert len(engine.history(view.id)) == view.event_count
