"""``--help`` loads only what it prints: click and the vocabulary, never the engine; the
root's help imports no command module at all (its lazy table lists them).

``appcase --help`` and every command's ``--help`` run in a fresh interpreter; after each,
``sys.modules`` must hold none of the heavy libraries (logging, settings, pydantic, the
database, the state machine) and no module of the workflow, the persistence or the wiring.
"""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from appcase.cli import cli
from appcase.cli.app import PLAIN_ARGUMENT_CHARS, LazyGroup
from appcase.cli.events import TABLE_WORDS
from appcase.limits import MAX_ARGUMENT_CHARS
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
    # the root's help lists the commands from its table: no command module is imported
    cli_modules = {m for m in out.stderr.split() if m.startswith("appcase.")}
    assert cli_modules == {"appcase.cli", "appcase.cli.app"}


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
        command = _loaded(cli, name)
        assert command.help is not None
        assert command.help.startswith(f"{summary[0].upper()}{summary[1:]}.")
        assert f"Moves {moves}." in command.help


def _loaded(group: click.Group, name: str) -> click.Command:
    command = group.get_command(click.Context(group), name)
    assert command is not None, name
    return command


def _lazy_groups() -> Iterator[tuple[str, LazyGroup]]:
    """Every lazy group of the command line, by its path (the root is '')."""

    def walk(group: click.Group, path: str) -> Iterator[tuple[str, LazyGroup]]:
        if isinstance(group, LazyGroup):
            yield path, group
        for name in group.list_commands(click.Context(group)):
            command = _loaded(group, name)
            if isinstance(command, click.Group):
                yield from walk(command, f"{path} {name}".strip())

    return walk(cli, "")


def test_every_table_row_names_its_command_and_its_short_help() -> None:
    """The tables the lazy groups list commands from say what the commands themselves say."""
    groups = dict(_lazy_groups())
    assert {"", "actor"} <= set(groups)
    for path, group in groups.items():
        for name, (module, short) in group.lazy.items():
            command = _loaded(group, name)
            assert command.callback is not None
            assert command.name == name
            assert importlib.import_module(module).COMMANDS.count(command) == 1, (path, name)
            assert short == command.get_short_help_str(10_000), f"appcase {path} {name}".strip()


def test_every_command_module_is_in_the_table() -> None:
    """A command added to a module's COMMANDS list but not to a table would never run."""
    tabled = {
        (module, name) for _, group in _lazy_groups() for name, (module, _) in group.lazy.items()
    }
    for info in pkgutil.iter_modules([str(ROOT / "appcase" / "cli")]):
        module = importlib.import_module(f"appcase.cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            assert (module.__name__, command.name) in tabled, (
                f"{module.__name__} lists {command.name!r} in COMMANDS but no lazy group's "
                "table has it: add a row to appcase.cli.COMMANDS (or its group's table)"
            )


def test_lazy_help_prints_what_the_loaded_commands_would() -> None:
    """Each lazy group's list of commands, from its table with nothing loaded, equals
    click's own listing of the loaded commands (as a plain click.Group prints it)."""
    for path, group in _lazy_groups():
        ctx = click.Context(group, info_name=path or "appcase")
        unloaded = copy.copy(group)
        unloaded.commands = {n: c for n, c in group.commands.items() if n not in group.lazy}
        from_table = ctx.make_formatter()
        unloaded.format_commands(ctx, from_table)
        for name in group.list_commands(ctx):
            _loaded(group, name)
        from_commands = ctx.make_formatter()
        click.Group.format_commands(group, ctx, from_commands)
        assert "Commands:" in from_table.getvalue()
        assert from_table.getvalue() == from_commands.getvalue(), path


def test_plain_arguments_bound_is_within_the_limit() -> None:
    assert PLAIN_ARGUMENT_CHARS <= MAX_ARGUMENT_CHARS
