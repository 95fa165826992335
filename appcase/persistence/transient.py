"""Database failures that are not the command's fault and pass: the connection lost (the
server ended it, restarted, or cannot be reached), a lock not granted within the lock
timeout, a statement cancelled. Each rolls the transaction back, so nothing was written and
the command can be retried: :func:`unavailable` says so in plain words, never with the
server's text or the statement."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, PendingRollbackError, SQLAlchemyError

from appcase.errors import DatabaseUnavailable

__all__ = ["LOCK_NOT_AVAILABLE", "unavailable"]

LOCK_NOT_AVAILABLE = "55P03"
"""PostgreSQL's SQLSTATE for a lock not granted within ``lock_timeout``."""

_INVALIDATED = "8s2b"
"""SQLAlchemy's code for a statement on a connection invalidated in its transaction."""

_RETRY = "nothing was written; retry the command"

_LOST = "the connection to the database was lost (the server ended it or cannot be reached)"


def _sqlstate(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def unavailable(exc: SQLAlchemyError, *, what: str = "the command") -> DatabaseUnavailable | None:
    """The retryable error for a database failure that passes, or ``None`` for any other.

    Args:
        exc: the SQLAlchemy error.
        what: what was interrupted, in words (``"the migration"``).
    """
    state = _sqlstate(exc)
    if state == LOCK_NOT_AVAILABLE or "lock timeout" in str(getattr(exc, "orig", "")):
        return DatabaseUnavailable(
            f"{what} waited too long for a lock another connection holds (the lock timeout passed)",
            _RETRY + " once the other connection is done",
        )
    if state == "57014":
        return DatabaseUnavailable(f"the database cancelled a statement of {what}", _RETRY)
    lost = (
        isinstance(exc, DisconnectionError)
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        # a statement on a connection invalidated earlier in its transaction:
        or (isinstance(exc, PendingRollbackError) and exc.code == _INVALIDATED)
    )
    if lost or state.startswith("08") or state in ("57P01", "57P02", "57P03"):
        return DatabaseUnavailable(_LOST, _RETRY)
    return None
