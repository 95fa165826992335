"""The command line's last line of defence: what happens when appcase itself fails.

An exception that is not one of appcase's own errors (:class:`~appcase.errors.AppcaseError`)
is a bug in appcase. The command line then prints one line -- what failed, where the full
report was written, how to report it -- and exits with :data:`INTERNAL_ERROR`. The report is
a text file in the user's state directory (``~/.local/state/appcase/crash-reports`` on
Linux; ``XDG_STATE_HOME`` moves it) holding the traceback, the versions and the command's
words -- option names, never their values, which may be confidential.
"""

from __future__ import annotations

import os
import platform
import sys
import traceback
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from appcase.limits import escape_controls

__all__ = ["INTERNAL_ERROR", "REPORT_TO", "crash_line", "write_crash_report"]

INTERNAL_ERROR = 70
"""Exit status of an unexpected failure inside appcase (``EX_SOFTWARE`` of sysexits.h):
not bad input, not a refusal -- a bug to report."""

REPORT_TO = "please report it to the appcase maintainers with that file attached"
"""How to report an internal error, as the one line says it."""


def _command_words(argv: list[str]) -> list[str]:
    """The command's words with every value left out: subcommands and option names only."""
    words: list[str] = []
    for arg in argv:
        if arg.startswith("-"):
            words.append(arg.split("=", 1)[0])
        elif not words or not words[-1].startswith("-"):
            words.append(arg if arg.isidentifier() or arg.replace("-", "").isalpha() else "…")
        else:
            words.append("…")
    return [escape_controls(w) for w in words]


def crash_dir() -> Path:
    """Where crash reports are written: ``<user state dir>/crash-reports``."""
    from platformdirs import user_state_path

    return user_state_path("appcase", appauthor=False) / "crash-reports"


def write_crash_report(exc: BaseException, argv: list[str]) -> Path:
    """Write the full report of an unexpected exception; return its path.

    Raises:
        OSError: the report could not be written.
    """
    try:
        appcase_version = version("appcase")
    except PackageNotFoundError:
        appcase_version = "unknown"
    now = datetime.now(UTC)
    folder = crash_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{now:%Y%m%dT%H%M%S}-{os.getpid()}.txt"
    text = "".join(traceback.format_exception(exc))
    body = (
        f"appcase {appcase_version} internal error at {now.isoformat()}\n"
        f"python {sys.version.split()[0]} on {platform.platform()}\n"
        f"command: appcase {' '.join(_command_words(argv))}\n\n{text}"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
        fh.write(body)
    return path


def crash_line(exc: BaseException, argv: list[str]) -> str:
    """Write the report and return the one line that tells a person about it."""
    what = " ".join(w for w in _command_words(argv) if not w.startswith("-") and w != "…")
    summary = escape_controls(f"{type(exc).__name__}: {exc}")[:300]
    try:
        where = f"the full report is in {write_crash_report(exc, argv)}"
    except OSError as err:
        where = f"no report could be written ({err.strerror or err})"
    return (
        f"internal error: 'appcase {what or '(no command)'}' failed ({summary}), "
        f"a bug in appcase; {where}; {REPORT_TO}"
    )
