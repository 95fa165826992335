"""The command line's shell: the root group, the application object, output and errors.

The CLI only parses, calls the engine and prints: a table for people, ``--json`` for
programs. Domain errors become exit codes (1 refused, 2 bad input, 3 retryable conflict)
with a message and never a traceback: the table and the hints are :mod:`appcase.cli.exits`.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from appcase.cli.exits import REFUSED, cli_message, exit_code
from appcase.clock import parse_instant
from appcase.errors import AppcaseError, AuditFailure, GuardRejected, InvalidInput

if TYPE_CHECKING:
    from pydantic import ValidationError

    from appcase.cli.settings import Settings

__all__ = [
    "App",
    "AppcaseGroup",
    "InstantType",
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
    """A group that turns :class:`AppcaseError` into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AppcaseError as exc:
            app = ctx.find_object(App)
            code = exit_code(exc)
            _report(exc, code, as_json=bool(app and app.json))
            ctx.exit(code)


def _report(exc: AppcaseError, code: int, *, as_json: bool) -> None:
    message = cli_message(exc)
    if as_json:
        body: dict[str, Any] = {"type": type(exc).__name__, "message": message}
        if isinstance(exc, GuardRejected):
            body |= {
                "case_id": exc.case_id,
                "state": exc.state,
                "event": exc.event,
                "rejections": [{"code": r.code, "message": r.message} for r in exc.rejections],
            }
        if isinstance(exc, AuditFailure):
            body["findings"] = [
                {"case_id": c, "seq": s, "kind": k, "detail": d} for c, s, k, d in exc.findings
            ]
        click.echo(json.dumps({"error": body}, ensure_ascii=False, indent=2))
        return
    label = "refused" if code == REFUSED else "error"
    click.secho(f"{label}: {message}", fg="red", err=True)


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
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
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
    """Read a JSON object from a file path or ``-`` (standard input).

    Raises:
        InvalidInput: unreadable file, not JSON, or not an object.
    """
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"{path} is nested too deeply to be a payload") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a JSON object")
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
