"""The diagram: drawn from the transition table, both tracks, every state, event and guard;
the README's copy is what ``appcase diagram`` prints."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from appcase.cli import cli
from appcase.states import Event, JudicialState, State
from appcase.workflow.diagram import render_dot, render_mermaid
from appcase.workflow.table import COMMON_GUARDS, TABLE

ROOT = Path(__file__).resolve().parents[2]


def _edges(text: str, arrow: str) -> set[tuple[str, str, str]]:
    pattern = rf"^\s*(\w+) {re.escape(arrow)} (\w+)(?::| \[label=\")\s*(\w+)"
    return set(re.findall(pattern, text, re.M))


@pytest.mark.parametrize(("render", "arrow"), [(render_mermaid, "-->"), (render_dot, "->")])
def test_every_state_event_and_guard_of_the_table_is_drawn(render, arrow) -> None:  # type: ignore[no-untyped-def]
    text = render()
    for state in [*State, *JudicialState]:
        assert re.search(rf"\b{state.value}\b", text), state
    expected = {
        (str(src), str(spec.dest), spec.event.value) for spec in TABLE for src in spec.sources
    }
    assert _edges(text, arrow) == expected
    assert {e.value for e in Event} == {event for _, _, event in expected}
    sep = " " if arrow == "-->" else "\\n"
    for spec in TABLE:  # each edge carries its row's own guards
        assert f"{spec.event.value}{sep}[{' & '.join(spec.guards)}]" in text
    assert all(g in text for g in COMMON_GUARDS)


def test_the_self_transition_and_both_tracks_starts_are_drawn() -> None:
    text = render_mermaid()
    assert "flagged --> flagged: add_evidence [evidence]" in text
    assert "[*] --> new" in text
    assert "[*] --> not_referred" in text
    assert "taken_down --> [*]" in text
    assert "referred_to_judiciary --> [*]" in text
    assert "Class " not in text  # no styling of the throwaway machine's own state


def test_readme_shows_what_the_command_prints() -> None:
    result = CliRunner().invoke(cli, ["diagram"])
    assert result.exit_code == 0, result.output
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Diagram", 1)[1]
    block = re.search(r"```mermaid\n(.*?)```", section, re.S)
    assert block is not None
    assert block.group(1) == result.output


def test_dot_output_is_valid_graphviz_where_dot_is_installed(tmp_path: Path) -> None:
    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz 'dot' is not installed; the dot text is checked above")
    out = tmp_path / "states.svg"
    subprocess.run([dot, "-Tsvg", "-o", str(out)], input=render_dot(), text=True, check=True)
    svg = out.read_text(encoding="utf-8")
    assert "add_evidence" in svg
    assert "referred_to_judiciary" in svg
