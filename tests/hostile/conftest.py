"""The hostile-input suite's profile and its count of inputs tried.

The suite is marked ``slow``: the README's test command runs it with the default ``short``
profile, the fast development run leaves it out, ``APPCASE_HOSTILE_PROFILE=long`` runs the
long profile. The terminal summary prints how
many inputs were tried per command and file type.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

PROFILE = os.environ.get("APPCASE_HOSTILE_PROFILE", "short")
EXAMPLES = {"short": 12, "long": 300}[PROFILE]
"""Generated inputs per command or file type in this run's profile."""

TRIED: Counter[str] = Counter()
"""Inputs tried, by command or file type."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TRIED:
        return
    terminalreporter.section(f"hostile inputs tried ({PROFILE} profile)")
    for what, n in sorted(TRIED.items()):
        terminalreporter.write_line(f"{n:6d}  {what}")
    terminalreporter.write_line(f"{sum(TRIED.values()):6d}  in all")
