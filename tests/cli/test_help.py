"""Every command's --help shows an example; shell completion works as the README says."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from appcase.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def _walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _walk(command, (*path, name))
        else:
            yield (*path, name)


COMMANDS = list(_walk(cli))


def test_the_walk_finds_the_commands() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"", "import ledger", "report hotline", "report summary", "diagram", "list"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "appcase")
def test_every_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="appcase")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"appcase {' '.join(path)} --help has no example"
    assert "appcase" in result.output.split("Example", 1)[1]


def test_shell_completion_as_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "_APPCASE_COMPLETE=bash_source appcase" in readme
    env = {**os.environ, "_APPCASE_COMPLETE": "bash_complete", "COMP_WORDS": "appcase rep",
           "COMP_CWORD": "1"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", "from appcase.cli import main; main()"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "plain,report" in result.stdout.splitlines()
