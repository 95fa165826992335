"""Every single act of tampering with a campaign's stored histories is found by ``verify``,
which names the case, the event and the kind of damage.

A campaign of eleven cases in every administrative state (one also referred to the
judiciary) is recorded once, with a checkpoint. Each example copies it, drops the
append-only triggers and changes it by hand: one event edited (any hashed column, or the
stored hash), deleted, inserted (a forgery with a valid hash, the later events renumbered),
two events swapped, a whole case deleted, the last event deleted with the case row fixed to
match, or an event rewritten with every later hash and the case's head recomputed. The
last three leave every chain consistent: only the checkpoint catches them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appcase.bootstrap import open_engine
from appcase.clock import FixedClock
from appcase.workflow.verify import checkpoint, verify
from tests.builders import checkpoint as wal_checkpoint
from tests.builders import cli_database, local
from tests.strategies import Tamper, tampers
from tests.tampering import apply_tamper


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A recorded campaign with a checkpoint, and its layout: case id → number of events."""
    path, ids = cli_database(tmp_path_factory.mktemp("tamper-property"))
    engine = open_engine(f"sqlite:///{path}", clock=FixedClock(local(4, 30, 12)))
    try:
        engine.fire(
            ids["judged_illegal"], "refer", actor="cs-cac", reason="涉嫌违法", at=local(3, 13)
        )
        checkpoint(engine)
        layout = {cid: engine.get(cid).event_count for cid in ids.values()}
        assert verify(engine).ok
    finally:
        engine.close()
    wal_checkpoint(path)
    assert min(layout.values()) == 1
    assert max(layout.values()) >= 6
    return path, layout


def _verify_after(
    template: Path, tamper: Tamper
) -> tuple[list[tuple[str, int | None, str]], tuple[str, int | None, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.sqlite"
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
        expected = apply_tamper(url, tamper)
        engine = open_engine(url)
        try:
            report = verify(engine)
        finally:
            engine.close()
    return [(c, s, k) for c, s, k, _ in report.problems], expected


@pytest.mark.slow
@given(data=st.data())
def test_verify_names_every_single_tampering(
    campaign: tuple[Path, dict[str, int]], data: st.DataObject
) -> None:
    template, layout = campaign
    tamper = data.draw(tampers(layout), label="tamper")
    found, expected = _verify_after(template, tamper)
    assert found == [expected]


@pytest.mark.parametrize(
    "kind", ["edit", "delete", "insert", "reorder", "delete_case", "truncate", "rewrite"]
)
def test_each_kind_of_tampering_on_the_longest_case(
    campaign: tuple[Path, dict[str, int]], kind: str
) -> None:
    """Every kind, at least once whatever hypothesis draws (the middle of the longest case)."""
    template, layout = campaign
    case_id = max(layout, key=lambda c: (layout[c], c))
    middle = layout[case_id] // 2
    tamper = Tamper(kind, case_id, middle, middle + 1, "payload")
    found, expected = _verify_after(template, tamper)
    assert found == [expected]
    assert expected[0] == case_id
