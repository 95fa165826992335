"""``appcase add-evidence`` joins evidence to a flagged case's open flag."""

from __future__ import annotations

from click.testing import CliRunner

from appcase.cli import cli
from appcase.workflow.engine import CaseEngine
from tests.builders import drive


def test_add_evidence_to_an_open_flag_and_refused_elsewhere(
    sqlite_engine: CaseEngine, sqlite_url: str
) -> None:
    flagged = drive(sqlite_engine, "flagged", n=0)
    surveyed = drive(sqlite_engine, "surveyed", n=1)
    base = ["--db", sqlite_url, "--actor", "cs-cac", "add-evidence"]
    item = [
        "--category",
        "inciting_violence",
        "--description",
        "视频",
        "--at",
        "2018-03-02T10:00+08:00",
    ]
    done = CliRunner().invoke(cli, [*base, flagged.id, *item])
    assert done.exit_code == 0, done.output
    assert "add_evidence flagged → flagged" in done.output
    assert sqlite_engine.get(flagged.id).event_count == flagged.event_count + 1
    refused = CliRunner().invoke(cli, [*base, surveyed.id, *item])
    assert refused.exit_code == 1
    assert "[state]" in refused.output
    assert sqlite_engine.get(surveyed.id).event_count == surveyed.event_count
