"""The command line's shell: the root group, the application object, output and errors.

The CLI only parses, calls the engine and prints: a table for people, ``--json`` for
programs. Domain errors become exit codes (1 refused, 2 bad input, 3 retryable conflict)
with a message and never a traceback: the table and the hints are :mod:`appcase.cli.exits`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from pydantic import ValidationError

    from appcase.cli.settings import Settings
    from appcase.errors import AppcaseError

__all__ = [
    "App",
    "AppcaseGroup",
    "InstantType",
    "LazyGroup",
    "check_arguments",
    "emit",
    "fail",
    "pass_app",
    "read_json_file",
    "table",
]


class App:
    """What every command receives on ``ctx.obj``: the root flags, settings read on first
    use and a lazily opened engine.

    Nothing is read or configured before a command asks for it, so that ``--help`` loads
    only click: the settings (``APPCASE_*`` over defaults, the flags over both) are read,
    and logging configured at the level they give, the first time :attr:`settings` is used.
    This module imports appcase's own modules inside the functions that use them, for the
    same reason (and see :class:`LazyGroup`).
    """

    def __init__(
        self, flags: dict[str, Any] | None = None, json: bool = False, verbose: int = 0
    ) -> None:
        self.flags: dict[str, Any] = dict(flags or {})
        self.json = json
        self.verbose = verbose
        self._settings: Settings | None = None
        self._engine: Any = None

    def __repr__(self) -> str:
        return f"App(flags={self.flags!r}, json={self.json!r}, verbose={self.verbose!r})"

    @property
    def settings(self) -> Settings:
        """The settings in force; the first use reads them and configures logging.

        Raises:
            InvalidInput: ``--db ''`` (an empty URL names no database; it used to fall back
                to the default file silently).
        """
        if self._settings is None:
            from appcase.cli.settings import Settings

            if self.flags.get("database_url") == "":
                from appcase.errors import InvalidInput

                raise InvalidInput(
                    "--db is empty: give a database URL or a SQLite file path, or leave "
                    "--db out for the default database"
                )

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
            from appcase.errors import InvalidInput

            raise InvalidInput(
                "say who acts: give --actor ID before the command "
                "(appcase --actor cs-cac flag ...) or set APPCASE_ACTOR"
            )
        return self.settings.actor


pass_app = click.make_pass_decorator(App)


class LazyGroup(click.Group):
    """A group whose subcommands are imported when one is run or its help is asked for.

    ``lazy`` maps each subcommand's name to ``(module, short help)``: the module (one of
    ``appcase.cli.*``) lists the command in its ``COMMANDS``, and the short help is what
    the group's own ``--help`` prints beside the name without importing the module. The
    short help must equal the command's (``command.get_short_help_str(10_000)``, its
    help's first sentence); ``tests/cli/test_lazy_help.py`` checks every entry, so that
    the two cannot drift. Subcommands added with ``add_command`` are listed as usual.

    The pattern is click's own ("Lazily Loading Subcommands" in its documentation).
    """

    def __init__(
        self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.load(cmd_name))
        return super().get_command(ctx, cmd_name)

    def load(self, name: str) -> click.Command:
        """Import the subcommand ``name`` from the module the table names.

        Raises:
            LookupError: if that module's ``COMMANDS`` has no command of that name (a
                table that disagrees with the code: a bug, caught by the tests).
        """
        import importlib

        module = importlib.import_module(self.lazy[name][0])
        for command in module.COMMANDS:
            if command.name == name:
                return command  # type: ignore[no-any-return]
        raise LookupError(f"{module.__name__}.COMMANDS has no command {name!r}")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the subcommands as click does, the lazy ones from the table (unloaded)."""
        listed: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:  # a stand-in carrying the table's short help
                command = click.Command(name, help=self.lazy[name][1])
            if not command.hidden:
                listed.append((name, command))
        if listed:
            limit = formatter.width - 6 - max(len(name) for name, _ in listed)
            rows = [(name, command.get_short_help_str(limit)) for name, command in listed]
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class AppcaseGroup(LazyGroup):
    """The root group: turns :class:`AppcaseError` into a message and an exit code, refuses
    arguments that cannot be text, prints usage errors as JSON under ``--json``, and is the
    last line of defence against appcase's own bugs (:mod:`appcase.cli.crash`)."""

    def invoke(self, ctx: click.Context) -> Any:
        from appcase.cli.exits import exit_code
        from appcase.errors import AppcaseError

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
        except click.ClickException as exc:
            code = exc.exit_code
            if as_json:
                import json

                from appcase.limits import escape_controls

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
                from appcase.cli.exits import USAGE

                click.echo(f"error: cannot write the output: {exc.strerror}", err=True)
                code = USAGE
            else:
                code = _last_line(exc, argv, as_json)
        except Exception as exc:
            # appcase's own errors (no AppcaseError is an OSError or a click exception),
            # imported only when one arrives so that --help loads none of it
            from appcase.cli.exits import exit_code
            from appcase.errors import AppcaseError

            if isinstance(exc, AppcaseError):
                code = exit_code(exc)
                _report(exc, code, as_json=as_json)
            else:
                code = _last_line(exc, argv, as_json)
        sys.exit(code)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so that Python's flush at exit does not fail on
    the closed pipe again."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _last_line(exc: BaseException, argv: list[str], as_json: bool) -> int:
    import json

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


PLAIN_ARGUMENT_CHARS = 1000
"""Arguments at most this long that are printable (``str.isprintable``: no control
character, no surrogate) pass :func:`check_arguments` without loading its checks; it must
not exceed :data:`~appcase.limits.MAX_ARGUMENT_CHARS` (a test checks)."""


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
    if all(len(value) <= PLAIN_ARGUMENT_CHARS and value.isprintable() for _, value in named):
        return  # no control character, no surrogate, short: nothing to refuse, nothing loaded
    import unicodedata

    from appcase.errors import InvalidInput
    from appcase.limits import MAX_ARGUMENT_CHARS, shown_text

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
    import json

    from appcase.cli.exits import REFUSED, cli_message
    from appcase.errors import AuditFailure, GuardRejected

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
    from appcase.limits import escape_controls

    return "\n".join(escape_controls(line) for line in message.split("\n"))


def fail(message: str) -> NoReturn:
    """Stop with bad input (exit 2)."""
    from appcase.errors import InvalidInput

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
        import json

        click.echo(json.dumps(_jsonable(data), ensure_ascii=False, indent=2, sort_keys=True))
    elif text is not None:
        click.echo(text)


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, aligned for CJK (double-width) characters."""
    from appcase.limits import escape_controls

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
        from appcase.cli.exits import cli_message
        from appcase.clock import parse_instant
        from appcase.errors import AppcaseError

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
    from appcase.errors import InvalidInput
    from appcase.limits import MAX_PAYLOAD_FILE_BYTES, escape_controls, load_json, read_bounded

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
