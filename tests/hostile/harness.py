"""Running one hostile input through the command line and checking what must always hold."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner, Result

from appcase.cli import cli
from tests.builders import checkpoint, dump_tables, file_digests, kept_logging
from tests.hostile.conftest import TRIED

DOCUMENTED = {0, 1, 2, 3}
"""The exit codes a command may end with on any input (70 is a bug)."""
TIME_LIMIT = 20.0
"""Seconds one command may take on any input."""


class Hang(BaseException):
    """Raised by the alarm: a command ran past :data:`TIME_LIMIT` (a BaseException, so
    that no ``except Exception`` of the code under test can swallow it)."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def ring(_signum: int, _frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def invoke(
    args: list[str], *, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> Result:
    full_env: dict[str, str | None] = dict.fromkeys(
        ("APPCASE_ACTOR", "APPCASE_DATABASE_URL", "APPCASE_CAMPAIGN", "APPCASE_LOG_LEVEL")
    )
    full_env |= env or {}
    with kept_logging(), deadline(TIME_LIMIT):
        return CliRunner().invoke(cli, args, input=stdin, env=full_env, catch_exceptions=True)


class Target:
    """A database the suite throws inputs at, with its last known good contents."""

    def __init__(self, db: Path) -> None:
        self.db = db
        checkpoint(db)
        self.files, self.rows = file_digests(db), dump_tables(db)

    def run(
        self,
        what: str,
        args: list[str],
        *,
        stdin: bytes | None = None,
        codes: set[int] | None = None,
    ) -> Result:
        """Run ``appcase --db DB ARGS``; check: no traceback, a documented exit code, done
        within the time limit, and the database byte-identical after a non-zero exit."""
        TRIED[what] += 1
        started = time.monotonic()
        result = invoke(["--db", str(self.db), *args], stdin=stdin)
        elapsed = time.monotonic() - started
        shown = [a[:60] for a in args]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{what} {shown!r} raised {result.exception!r}")
        assert "Traceback" not in result.output, (what, shown, result.output)
        assert result.exit_code in (codes or DOCUMENTED), (what, shown, result.output[-2000:])
        assert elapsed < TIME_LIMIT, (what, shown, elapsed)
        if result.exit_code != 0:
            assert file_digests(self.db) == self.files, (what, shown, "database file changed")
            checkpoint(self.db)
            assert dump_tables(self.db) == self.rows, (what, shown, "database rows changed")
        else:
            checkpoint(self.db)
            self.files, self.rows = file_digests(self.db), dump_tables(self.db)
        return result
