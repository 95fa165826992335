"""The administrators' log and override grants, as SQLAlchemy Core statements on a
transaction's connection. :class:`~appcase.persistence.repository.Repository` offers them
as the methods :class:`~appcase.ports.Queries` and :class:`~appcase.ports.CaseStore`
name."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, insert, select, update

from appcase.persistence.models import ActorRow, AdminActRow, GrantRow
from appcase.ports import StoredActor, StoredAdminAct, StoredGrant, record_fields

__all__ = [
    "add_admin_act",
    "add_grant",
    "admin_acts",
    "administrators",
    "grant",
    "grants",
    "last_admin_act",
    "revoke_grant",
    "use_grant",
]

_ACTS = cast(Table, AdminActRow.__table__)
_ACT_COLUMNS = tuple(_ACTS.c[name] for name in StoredAdminAct.__dataclass_fields__)
_GRANTS = cast(Table, GrantRow.__table__)
_GRANT_COLUMNS = tuple(_GRANTS.c[name] for name in StoredGrant.__dataclass_fields__)
_ACTORS = cast(Table, ActorRow.__table__)


def admin_acts(conn: Connection, after: int = 0) -> list[StoredAdminAct]:
    """The log's entries after ``seq`` ``after``, in order."""
    rows = conn.execute(select(*_ACT_COLUMNS).where(_ACTS.c.seq > after).order_by(_ACTS.c.seq))
    return [StoredAdminAct(*r) for r in rows]


def last_admin_act(conn: Connection) -> StoredAdminAct | None:
    """The log's last entry (by its primary key), or ``None``."""
    row = conn.execute(select(*_ACT_COLUMNS).order_by(_ACTS.c.seq.desc()).limit(1)).first()
    return StoredAdminAct(*row) if row is not None else None


def add_admin_act(conn: Connection, act: StoredAdminAct) -> None:
    """Append an entry to the log."""
    conn.execute(insert(_ACTS), record_fields(act))


def administrators(conn: Connection, role: str) -> list[StoredActor]:
    """The actors of ``role``, by id."""
    columns = (_ACTORS.c.id, _ACTORS.c.role, _ACTORS.c.jurisdiction, _ACTORS.c.name)
    rows = conn.execute(select(*columns).where(_ACTORS.c.role == role).order_by(_ACTORS.c.id))
    return [StoredActor(*r) for r in rows]


def grant(conn: Connection, grant_id: str) -> StoredGrant | None:
    """The grant with this id, or ``None``."""
    row = conn.execute(select(*_GRANT_COLUMNS).where(_GRANTS.c.id == grant_id)).first()
    return StoredGrant(*row) if row is not None else None


def grants(conn: Connection, case_id: str | None = None) -> list[StoredGrant]:
    """Every grant (of one case, if given), by creation time then id."""
    stmt = select(*_GRANT_COLUMNS).order_by(_GRANTS.c.created_at, _GRANTS.c.id)
    if case_id is not None:
        stmt = stmt.where(_GRANTS.c.case_id == case_id)
    return [StoredGrant(*r) for r in conn.execute(stmt)]


def add_grant(conn: Connection, found: StoredGrant) -> None:
    """Store a grant."""
    conn.execute(insert(_GRANTS), record_fields(found))


def revoke_grant(conn: Connection, grant_id: str, by: str, at: datetime) -> bool:
    """Revoke a grant neither revoked nor used; ``False`` if there is none such."""
    result = conn.execute(
        update(_GRANTS)
        .where(
            _GRANTS.c.id == grant_id,
            _GRANTS.c.revoked_at.is_(None),
            _GRANTS.c.used_at.is_(None),
        )
        .values(revoked_at=at, revoked_by=by)
    )
    return bool(result.rowcount)


def use_grant(conn: Connection, grant_id: str, by: str, at: datetime, position: int) -> bool:
    """Mark a grant neither revoked nor used as used; ``False`` if there is none such (the
    row is locked until the transaction ends, so a racing use waits and then finds it
    used)."""
    result = conn.execute(
        update(_GRANTS)
        .where(
            _GRANTS.c.id == grant_id,
            _GRANTS.c.revoked_at.is_(None),
            _GRANTS.c.used_at.is_(None),
        )
        .values(used_at=at, used_by=by, used_position=position)
    )
    return bool(result.rowcount)
