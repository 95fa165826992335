"""API tokens' reads and writes, as SQLAlchemy Core statements on a transaction's
connection. :class:`~appcase.persistence.repository.Repository` offers them as the methods
:class:`~appcase.ports.Queries` and :class:`~appcase.ports.CaseStore` name. Only a token's
SHA-256 is ever stored or read."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, insert, select, update

from appcase.persistence.models import TokenRow
from appcase.ports import StoredToken, record_fields

__all__ = ["add_token", "revoke_token", "token_by_digest", "tokens"]

_TOKENS = cast(Table, TokenRow.__table__)
_COLUMNS = tuple(_TOKENS.c[name] for name in StoredToken.__dataclass_fields__)


def token_by_digest(conn: Connection, digest: str) -> StoredToken | None:
    """The token with this SHA-256, or ``None``."""
    row = conn.execute(select(*_COLUMNS).where(_TOKENS.c.digest == digest)).first()
    return StoredToken(*row) if row is not None else None


def tokens(conn: Connection, actor_id: str | None = None) -> list[StoredToken]:
    """Every token (of one actor, if given), by creation time then id."""
    stmt = select(*_COLUMNS).order_by(_TOKENS.c.created_at, _TOKENS.c.id)
    if actor_id is not None:
        stmt = stmt.where(_TOKENS.c.actor_id == actor_id)
    return [StoredToken(*r) for r in conn.execute(stmt)]


def add_token(conn: Connection, token: StoredToken) -> None:
    """Store a token's record."""
    conn.execute(insert(_TOKENS), record_fields(token))


def revoke_token(conn: Connection, token_id: str, at: datetime) -> bool:
    """Revoke a token; ``False`` if there is none with this id or it is already revoked."""
    result = conn.execute(
        update(_TOKENS)
        .where(_TOKENS.c.id == token_id, _TOKENS.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return bool(result.rowcount)
