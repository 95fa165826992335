"""Diagrams of the transition table: Mermaid and Graphviz dot.

Both are drawn from a throwaway ``transitions`` ``GraphMachine`` built from
:data:`appcase.workflow.table.TABLE` (DESIGN §3 "Using transitions well"), never from the
runtime machines: every state of both tracks, every event, and each row's own guards on
its edge (``survey [app_identity & not_in_ledger]``). The guards every row shares
(:data:`~appcase.workflow.table.COMMON_GUARDS`) are named once, in the title.

* Mermaid comes from the library's ``mermaid`` graph engine (no system graphviz needed).
  Its styling lines are dropped (they mark the throwaway machine's own "active" state,
  which means nothing here) and the judicial track's start and both tracks' final states
  are marked.
* Dot is written by :func:`render_dot` from the same machine's markup (its states and
  transitions as data). The library's dot engines need the ``graphviz`` or
  ``pygraphviz`` package (and fall back silently to Mermaid without them); a dozen lines
  of our own keep ``appcase diagram --format dot`` the same on every installation
  without another dependency for emitting text.
"""

from __future__ import annotations

from typing import Any, Literal

from appcase.states import JudicialState, State, Track
from appcase.workflow.table import COMMON_GUARDS, FINAL_STATES, INITIAL_STATES, TABLE

__all__ = ["TITLE", "diagram", "graph_machine", "render_dot", "render_mermaid"]

TITLE = (
    "appcase case states: administrative and judicial tracks "
    f"(every transition also checks {', '.join(COMMON_GUARDS)})"
)
"""The diagrams' title."""

_TRACK_STATES: dict[Track, list[str]] = {
    Track.ADMINISTRATIVE: [s.value for s in State],
    Track.JUDICIAL: [s.value for s in JudicialState],
}


def graph_machine() -> Any:
    """A throwaway ``GraphMachine`` (Mermaid engine) holding both tracks of the table.

    The two tracks' states are disjoint, so one flat machine holds both; its model is the
    machine itself and it is never fired.

    Returns:
        A ``transitions.extensions.diagrams.GraphMachine``.
    """
    from transitions.extensions.diagrams import GraphMachine

    machine = GraphMachine(
        states=[*_TRACK_STATES[Track.ADMINISTRATIVE], *_TRACK_STATES[Track.JUDICIAL]],
        initial=str(INITIAL_STATES[Track.ADMINISTRATIVE]),
        auto_transitions=False,
        show_conditions=True,
        graph_engine="mermaid",
        title=TITLE,
    )
    for spec in TABLE:
        # guard names as labels only: this machine is drawn, never fired
        machine.add_transition(
            spec.event.value,
            [str(s) for s in spec.sources],
            str(spec.dest),
            conditions=list(spec.guards),
        )
    return machine


def render_mermaid(machine: Any | None = None) -> str:
    """The Mermaid ``stateDiagram-v2`` of the table (ends with a newline).

    Args:
        machine: a machine from :func:`graph_machine` (default: a new one).
    """
    machine = machine or graph_machine()
    source: str = machine.get_graph().source
    lines = [
        line.rstrip()
        for line in source.splitlines()
        if not line.strip().startswith(("classDef ", "Class "))
    ]
    while "" in lines[-1:]:
        lines.pop()
    lines.append(f"  [*] --> {INITIAL_STATES[Track.JUDICIAL]}")
    for track in Track:
        lines += [f"  {state} --> [*]" for state in sorted(FINAL_STATES[track])]
    out: list[str] = []
    for line in lines:  # no doubled blank lines
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out) + "\n"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def render_dot(machine: Any | None = None) -> str:
    """The Graphviz dot digraph of the table (ends with a newline), one cluster per track.

    Args:
        machine: a machine from :func:`graph_machine` (default: a new one).
    """
    machine = machine or graph_machine()
    markup = machine.markup
    lines = [
        "digraph appcase {",
        f"  label={_quote(TITLE)};",
        "  labelloc=t;",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded"];',
    ]
    declared = {s["name"] if isinstance(s, dict) else str(s) for s in markup["states"]}
    for track, states in _TRACK_STATES.items():
        lines.append(f"  subgraph cluster_{track.value} {{")
        lines.append(f"    label={_quote(f'{track.value} track')};")
        start = f"start_{track.value}"
        lines.append(f"    {start} [shape=point];")
        for state in states:
            assert state in declared
            final = ", peripheries=2" if state in FINAL_STATES[track] else ""
            lines.append(f"    {state} [label={_quote(state)}{final}];")
        lines.append(f"    {start} -> {INITIAL_STATES[track]};")
        lines.append("  }")
    for tran in markup["transitions"]:
        label = tran["trigger"]
        if tran.get("conditions"):
            label += "\n[" + " & ".join(tran["conditions"]) + "]"
        lines.append(f"  {tran['source']} -> {tran['dest']} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def diagram(fmt: Literal["mermaid", "dot"] = "mermaid") -> str:
    """The diagram of the transition table in ``fmt`` (``mermaid`` or ``dot``).

    Raises:
        ValueError: for another format.
    """
    if fmt == "mermaid":
        return render_mermaid()
    if fmt == "dot":
        return render_dot()
    raise ValueError(f"unknown diagram format {fmt!r}; use mermaid or dot")
