"""The vocabulary of a case: its states on both tracks, the events, and the ordered scales.

These are plain string enums so that they persist as readable text and print as the terms
the docs use. The transition table that connects them is :mod:`appcase.workflow.table`.
"""

from appcase.states.vocabulary import (
    Disposition,
    EscalationGround,
    Event,
    JudicialState,
    Severity,
    State,
    Track,
)

__all__ = [
    "Disposition",
    "EscalationGround",
    "Event",
    "JudicialState",
    "Severity",
    "State",
    "Track",
]
