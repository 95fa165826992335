"""The state machine of :mod:`appcase.testing.machine`, played on Hunan 2018.

The machine itself (random operators, the deadline sweep, a moving clock, and the invariants
checked after every step: replay equals stored state, chains verify, refusals write nothing,
windows and minimums are kept unless an override waived them, the three folds agree) is
public, in :func:`appcase.testing.campaign_machine`. Here it is bound to the built-in campaign,
with one invariant more that looks below the engine: every rectification follows a pledge
that has its row in the ``pledges`` table.

The ``ci`` profile runs a few short campaigns; ``APPCASE_HYPOTHESIS_PROFILE=thorough`` many
long ones.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings
from hypothesis.stateful import invariant
from sqlalchemy import select

from appcase.persistence.models import PledgeRow
from appcase.ports import CaseFilter
from appcase.testing import campaign_machine
from tests.dbcheck import orm
from tests.strategies import HUNAN

PROFILE = os.environ.get("APPCASE_HYPOTHESIS_PROFILE", "ci")
MACHINE_SETTINGS = {
    "ci": settings(max_examples=15, stateful_step_count=40),
    "dev": settings(max_examples=4, stateful_step_count=20),
    "thorough": settings(max_examples=400, stateful_step_count=80),
}


class HunanMachine(campaign_machine(HUNAN)):  # type: ignore[misc]
    """Random operators on a Hunan 2018 database."""

    @invariant()
    def rectifications_follow_a_stored_pledge(self) -> None:
        with orm(self.engine) as session:
            pledge_events = set(session.scalars(select(PledgeRow.event_id)))
        with self.engine.storage.reading() as repo:
            for row, _app in repo.cases(HUNAN.id, CaseFilter()):
                last_admin = None
                for ev in repo.events(row.id):
                    if ev.event == "rectify":
                        assert last_admin is not None, "rectified first"
                        assert last_admin.position in pledge_events
                    if ev.track == "administrative":
                        last_admin = ev


TestCampaignMachine = pytest.mark.slow(HunanMachine.TestCase)
TestCampaignMachine.settings = MACHINE_SETTINGS.get(PROFILE, MACHINE_SETTINGS["ci"])
