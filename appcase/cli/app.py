"""The command line's shell: the root group, the application object, output and errors.

The CLI only parses, calls the engine and prints: a table for people, ``--json`` for
programs. Domain errors become exit codes (1 refused, 2 bad input, 3 retryable conflict)
with a message and never a traceback: the table and the hints are :mod:`appcase.cli.exits`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

from appcase.cli.exits import REFUSED, USAGE, cli_message, exit_code
from appcase.clock import parse_instant
from appcase.errors import AppcaseError, AuditFailure, GuardRejected, InvalidInput
from appcase.limits import (
    MAX_ARGUMENT_CHARS,
    MAX_PAYLOAD_FILE_BYTES,
    escape_controls,
    load_json,
    read_bounded,
    shown_text,
)

if TYPE_CHECKING:
    from pydantic import ValidationError

    from appcase.cli.settings import Settings

__all__ = [
    "App",
    "AppcaseGroup",
    "InstantType",
    "check_arguments",
    "emit",
    "fail",
    "pass_app",
    "read_json_file",
    "table",
]


@dataclass
class App:
    """What every command receives on ``ctx.obj``: the root flags, settings read on first
    use and a lazily opened engine.

    Nothing is read or configured before a command asks for it, so that ``--help`` loads
    only click: the settings (``APPCASE_*`` over defaults, the flags over both) are read,
    and logging configured at the level they give, the first time :attr:`settings` is used.
    """

    flags: dict[str, Any] = field(default_factory=dict)
    json: bool = False
    verbose: int = 0
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Any = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """The settings in force; the first use reads them and configures logging."""
        if self._settings is None:
            from appcase.cli.settings import Settings

            settings = Settings().model_copy(update={k: v for k, v in self.flags.items() if v})
            configure_logging({0: settings.log_level, 1: "info"}.get(self.verbose, "debug"))
            self._settings = settings
        return self._settings

    @property
    def database_url(self) -> str:
        """The database URL in force (flag, then ``APPCASE_DATABASE_URL``, then default)."""
        from appcase.bootstrap import database_url

        return self.settings.database_url or database_url()

    def engine(self) -> Any:
        """Open the engine on first use (raises ``DatabaseNotReady`` before ``init``)."""
        if self._engine is None:
            from appcase.bootstrap import open_engine

            self._engine = open_engine(self.database_url, self.settings.campaign)
            click.get_current_context().call_on_close(self._engine.close)
        return self._engine

    def actor(self) -> str:
        """The acting officer: ``--actor`` or ``APPCASE_ACTOR``.

        Raises:
            InvalidInput: if neither is set.
        """
        if not self.settings.actor:
            raise InvalidInput(
                "say who acts: give --actor ID before the command "
                "(appcase --actor cs-cac flag ...) or set APPCASE_ACTOR"
            )
        return self.settings.actor


pass_app = click.make_pass_decorator(App)


class AppcaseGroup(click.Group):
    """The root group: turns :class:`AppcaseError` into a message and an exit code, refuses
    arguments that cannot be text, prints usage errors as JSON under ``--json``, and is the
    last line of defence against appcase's own bugs (:mod:`appcase.cli.crash`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AppcaseError as exc:
            app = ctx.find_object(App)
            code = exit_code(exc)
            _report(exc, code, as_json=bool(app and app.json))
            ctx.exit(code)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode:
            check_arguments(argv)
            return super().main(
                argv,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        as_json = _wants_json(argv)
        code: int
        try:
            check_arguments(argv)
            rv = super().main(
                argv,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        except AppcaseError as exc:
            code = exit_code(exc)
            _report(exc, code, as_json=as_json)
        except click.ClickException as exc:
            code = exc.exit_code
            if as_json:
                body = {
                    "type": type(exc).__name__,
                    "message": escape_controls(exc.format_message()),
                }
                click.echo(json.dumps({"error": body}, ensure_ascii=False, indent=2))
            else:
                exc.show()
        except (click.Abort, KeyboardInterrupt):
            click.echo("Aborted!", err=True)
            code = 130  # as a shell reports an interrupted command (128 + SIGINT)
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # the reader went away (appcase feed | head): done
                _quiet_stdout()
                code = 0
            elif exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                click.echo(f"error: cannot write the output: {exc.strerror}", err=True)
                code = USAGE
            else:
                code = _last_line(exc, argv, as_json)
        except Exception as exc:
            code = _last_line(exc, argv, as_json)
        sys.exit(code)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so that Python's flush at exit does not fail on
    the closed pipe again."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _last_line(exc: BaseException, argv: list[str], as_json: bool) -> int:
    from appcase.cli.crash import INTERNAL_ERROR, crash_line

    line = crash_line(exc, argv)
    if as_json:
        body = {"type": "InternalError", "message": line}
        click.echo(json.dumps({"error": body}, ensure_ascii=False, indent=2))
    else:
        click.secho(line, fg="red", err=True)
    return INTERNAL_ERROR


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether ``--json`` is among the arguments (for errors before click has parsed them)."""
    return "--json" in argv


def check_arguments(argv: Sequence[str]) -> None:
    """Refuse arguments (and ``APPCASE_*`` environment values) that cannot be text: bytes
    that are not UTF-8 (Python's surrogate escapes), NUL, control characters other than
    line breaks and tabs, or longer than :data:`~appcase.limits.MAX_ARGUMENT_CHARS`.

    Raises:
        InvalidInput: naming the argument by its position and showing it escaped.
    """
    named = [(f"argument {i}", a) for i, a in enumerate(argv, 1)]
    named += [
        (f"environment variable {k}", v) for k, v in os.environ.items() if k.startswith("APPCASE_")
    ]
    for where, value in named:
        shown = shown_text(value)
        if len(value) > MAX_ARGUMENT_CHARS:
            raise InvalidInput(
                f"{where} is {len(value):,} characters long; the limit is "
                f"{MAX_ARGUMENT_CHARS:,} characters (MAX_ARGUMENT_CHARS, docs/limits.md)"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(
                f"{where} '{shown}' is not valid UTF-8 text; check the terminal's encoding"
            ) from None
        bad = next((c for c in value if unicodedata.category(c) == "Cc" and c not in "\n\t"), None)
        if bad is not None:
            raise InvalidInput(
                f"{where} '{shown}' holds a control character (U+{ord(bad):04X}); remove it"
            )


def _report(exc: AppcaseError, code: int, *, as_json: bool) -> None:
    message = _printable(cli_message(exc))
    if as_json:
        body: dict[str, Any] = {"type": type(exc).__name__, "message": message}
        if isinstance(exc, GuardRejected):
            body |= {
                "case_id": exc.case_id,
                "state": exc.state,
                "event": exc.event,
                "rejections": [
                    {"code": r.code, "message": _printable(r.message)} for r in exc.rejections
                ],
            }
        if isinstance(exc, AuditFailure):
            body["findings"] = [
                {"case_id": c, "seq": s, "kind": k, "detail": _printable(d)}
                for c, s, k, d in exc.findings
            ]
        click.echo(json.dumps({"error": body}, ensure_ascii=False, indent=2))
        return
    label = "refused" if code == REFUSED else "error"
    click.secho(f"{label}: {message}", fg="red", err=True)


def _printable(message: str) -> str:
    """A message with every control character escaped but its own line breaks kept."""
    return "\n".join(escape_controls(line) for line in message.split("\n"))


def fail(message: str) -> NoReturn:
    """Stop with bad input (exit 2)."""
    raise InvalidInput(message)


def _jsonable(value: Any) -> Any:
    pydantic = sys.modules.get("pydantic")  # a model to print means pydantic is loaded
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def emit(app: App, data: Any, text: str | None = None) -> None:
    """Print ``data`` as JSON with ``--json``, else ``text`` (if given)."""
    if app.json:
        click.echo(json.dumps(_jsonable(data), ensure_ascii=False, indent=2, sort_keys=True))
    elif text is not None:
        click.echo(text)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, aligned for CJK (double-width) characters."""
    cells = [
        [str(h) for h in headers],
        *[["" if c is None else escape_controls(str(c)) for c in r] for r in rows],
    ]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


class InstantType(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 instant with an offset (``2018-03-01T09:00+08:00``); naive is refused."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            return parse_instant(str(value), param.name if param and param.name else "time")
        except AppcaseError as exc:
            self.fail(cli_message(exc), param, ctx)


def read_json_file(path: str) -> dict[str, Any]:
    """Read a JSON object from a file path or ``-`` (standard input), within the limits of
    :mod:`appcase.limits` (size, nesting, integer digits).

    Raises:
        InvalidInput: unreadable or too large a file, not JSON, or not an object.
    """
    data = load_json(read_bounded(path, MAX_PAYLOAD_FILE_BYTES, "payload file"), path)
    if not isinstance(data, dict):
        raise InvalidInput(f"{escape_controls(path)} must hold a JSON object")
    return data


def configure_logging(level: str) -> None:
    """Configure structlog once, for the command line: to standard error, at ``level``."""
    import logging

    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def validation_message(exc: ValidationError) -> str:
    """One line per problem of a pydantic error."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(value)'}: {e['msg']}" for e in exc.errors()
    )
