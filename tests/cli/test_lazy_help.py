"""``--help`` loads only what it prints: click and the vocabulary, never the engine.

``appcase --help`` and every command's ``--help`` run in a fresh interpreter; after each,
``sys.modules`` must hold none of the heavy libraries (logging, settings, pydantic, the
database, the state machine) and no module of the workflow, the persistence or the wiring.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from appcase.cli import cli
from appcase.cli.events import TABLE_WORDS
from appcase.states import Event
from appcase.workflow.table import spec_for
from tests.cli.test_help import COMMANDS

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = (
    "structlog",
    "pydantic",
    "pydantic_settings",
    "sqlalchemy",
    "alembic",
    "transitions",
    "appcase.workflow",
    "appcase.persistence",
    "appcase.bootstrap",
    "appcase.policies",
    "appcase.demo",
    "appcase.adapters",
)

_CHILD = """
import json, sys
from appcase.cli import main

forbidden = tuple(json.loads(sys.argv[1]))
report = {}
for path in json.loads(sys.argv[2]):
    sys.argv = ["appcase", *path, "--help"]
    try:
        main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            report[" ".join(path) or "appcase"] = [f"exit {exc.code}"]
    loaded = sorted(
        m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden)
    )
    if loaded:
        report[" ".join(path) or "appcase"] = loaded
        break  # later commands would only inherit these
print(json.dumps(report))
"""


def test_help_loads_no_heavy_module() -> None:
    paths = [list(p) for p in COMMANDS]
    assert len(paths) > 30  # every command and group, the root included
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(FORBIDDEN), json.dumps(paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {}, f"--help loaded what it does not print: {report}"


def test_python_m_appcase_help_loads_no_heavy_module() -> None:
    code = (
        "import runpy, sys\n"
        "sys.argv = ['appcase', '--help']\n"
        "try:\n    runpy.run_module('appcase', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "Usage: appcase" in out.stdout
    loaded = [
        m for m in out.stderr.split() if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert loaded == []


def test_event_help_words_match_the_table() -> None:
    """The event commands' help copies the table's words (so as not to load it)."""
    assert set(TABLE_WORDS) == set(Event) - {Event.SURVEY}
    for event, (summary, moves) in TABLE_WORDS.items():
        spec = spec_for(event)
        assert summary == spec.summary
        assert moves == f"{', '.join(str(s) for s in spec.sources)} → {spec.dest}"


def test_event_commands_show_the_table_words() -> None:
    for event, (summary, moves) in TABLE_WORDS.items():
        name = {Event.RETURN_FOR_RECTIFICATION: "return"}.get(event, event.value.replace("_", "-"))
        command = cli.commands[name]
        assert command.help is not None
        assert command.help.startswith(f"{summary[0].upper()}{summary[1:]}.")
        assert f"Moves {moves}." in command.help
