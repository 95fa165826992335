"""The benchmarks still run: ``python -m benchmarks --size tiny`` end to end.

Not a timed test: it checks that every item runs and reports, not how fast. PostgreSQL
(item 2) runs only when ``APPCASE_TEST_DATABASE_URL`` is set; peers whose packages (the
``bench`` extra) are missing must be reported as skipped, with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PEERS = {"8a": "transitions", "8b": "statemachine", "8c": "SpiffWorkflow"}
LIKE_FOR_LIKE = {"8d": "transitions", "8e": "statemachine", "8f": "SpiffWorkflow"}


@pytest.mark.slow
def test_tiny_run_reports_every_item(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    committed = ROOT / "benchmarks" / "RESULTS.md"
    before = committed.read_bytes() if committed.exists() else None
    args = [sys.executable, "-m", "benchmarks", "--size", "tiny", "--out", str(out)]
    args += ["--workdir", str(tmp_path / "work")]
    pg = os.environ.get("APPCASE_TEST_DATABASE_URL")
    args += ["--pg-url", pg] if pg else ["--no-postgres"]
    env = {k: v for k, v in os.environ.items() if k != "APPCASE_BENCH_DATABASE_URL"}
    done = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    items = {line.split("|")[1].strip() for line in rows}
    assert {"1", "3", "4", "5", "6", "7", "8", "9"} <= items, items
    assert "## Machine" in text
    assert "not measured: import not available" in text or "import ledger" in text
    # every goal row carries a verdict; a measured item has a number
    fire = next(line for line in rows if "engine.fire(escalate)" in line and "SQLite" in line)
    assert "ms/op" in fire
    assert "met" in fire or "MISSED" in fire
    # item 1h: a fire over HTTP (a real server process) against the library call
    over_http = [r for r in rows if r.split("|")[1].strip() == "1h" and "appcase serve" in r]
    assert over_http, rows
    assert "ms/op" in over_http[0], over_http
    assert "vs engine.fire" in over_http[0], over_http
    if pg:
        assert any("PostgreSQL: engine.fire" in line and "ms/op" in line for line in rows)
    else:
        assert "skipped: --no-postgres" in text
    for key, module in (PEERS | LIKE_FOR_LIKE).items():
        line = next(r for r in rows if r.split("|")[1].strip() == key)
        if importlib.util.find_spec(module) is None:
            assert f"skipped: {module} is not installed" in text, line
        else:
            assert "ms/case" in line, line
            assert (key in LIKE_FOR_LIKE) == ("faster" in line), line  # only 8d-8f have goals
    # item 9: a row per command, each with a ratio to the empty base
    flat = [r for r in rows if r.split("|")[1].strip() == "9"]
    for command in ("survey", "judge", "sweep", "show", "history", "list --limit 20"):
        line = next(r for r in flat if f"| {command} on " in r)
        assert "vs the same on an empty base" in line
        assert "met" in line or "MISSED" in line
    assert any("report summary" in r and "none:" in r for r in flat)
    # the committed RESULTS.md was not touched
    assert (committed.read_bytes() if committed.exists() else None) == before
