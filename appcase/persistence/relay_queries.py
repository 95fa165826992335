"""The webhook relay's statements: its cursor per campaign and receiver, and the lease.

:class:`~appcase.persistence.repository.Repository` delegates its relay methods here. Every
write is a compare-and-set on the ``relay_cursors`` row: a lease is taken only if it is
free, already the caller's, or over; the cursor moves only for the lease's owner and only
forward. On PostgreSQL (READ COMMITTED) two relays updating the row at once queue on its
row lock and the second re-checks the condition on the row the first committed, so at most
one of them wins; SQLite's write transactions are serial.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from appcase.persistence.models import RelayCursorRow
from appcase.ports import RelayCursor

__all__ = [
    "advance_relay_cursor",
    "claim_relay_lease",
    "note_relay_failure",
    "relay_cursor",
    "release_relay_lease",
]

_CURSORS = cast(Table, RelayCursorRow.__table__)
_COLUMNS = tuple(_CURSORS.c[name] for name in RelayCursor.__dataclass_fields__)


def _key(campaign_id: str, receiver: str) -> tuple[Any, ...]:
    return (_CURSORS.c.campaign_id == campaign_id, _CURSORS.c.receiver == receiver)


def relay_cursor(conn: Connection, campaign_id: str, receiver: str) -> RelayCursor | None:
    """The receiver's cursor in the campaign, or ``None``."""
    row = conn.execute(select(*_COLUMNS).where(*_key(campaign_id, receiver))).first()
    return RelayCursor(*row) if row is not None else None


def claim_relay_lease(
    conn: Connection, campaign_id: str, receiver: str, owner: str, now: datetime, until: datetime
) -> RelayCursor | None:
    """Take or renew the lease for ``owner`` (compare-and-set); the cursor if it is held."""
    if relay_cursor(conn, campaign_id, receiver) is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(_CURSORS).values(
                        campaign_id=campaign_id,
                        receiver=receiver,
                        position=0,
                        delivered=0,
                        lease_owner=None,
                        lease_until=None,
                        failing_since=None,
                        failures=0,
                        last_error=None,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            pass  # another relay created it first: the compare-and-set below decides
    taken = conn.execute(
        update(_CURSORS)
        .where(
            *_key(campaign_id, receiver),
            or_(
                _CURSORS.c.lease_owner.is_(None),
                _CURSORS.c.lease_owner == owner,
                _CURSORS.c.lease_until <= now,
            ),
        )
        .values(lease_owner=owner, lease_until=until, updated_at=now)
    )
    if taken.rowcount != 1:
        return None
    return relay_cursor(conn, campaign_id, receiver)


def advance_relay_cursor(
    conn: Connection, campaign_id: str, receiver: str, owner: str, position: int, now: datetime
) -> bool:
    """Move the cursor forward to ``position`` for the lease's owner; ``False`` if not."""
    moved = conn.execute(
        update(_CURSORS)
        .where(
            *_key(campaign_id, receiver),
            _CURSORS.c.lease_owner == owner,
            _CURSORS.c.position < position,
        )
        .values(
            position=position,
            delivered=_CURSORS.c.delivered + 1,
            failing_since=None,
            failures=0,
            last_error=None,
            updated_at=now,
        )
    )
    return moved.rowcount == 1


def note_relay_failure(
    conn: Connection,
    campaign_id: str,
    receiver: str,
    owner: str,
    since: datetime,
    error: str,
    now: datetime,
) -> bool:
    """Record a failed attempt for the lease's owner; ``False`` if it does not hold it."""
    noted = conn.execute(
        update(_CURSORS)
        .where(*_key(campaign_id, receiver), _CURSORS.c.lease_owner == owner)
        .values(
            failing_since=since,
            failures=_CURSORS.c.failures + 1,
            last_error=error[:200],
            updated_at=now,
        )
    )
    return noted.rowcount == 1


def release_relay_lease(conn: Connection, campaign_id: str, receiver: str, owner: str) -> None:
    """Give the lease up if ``owner`` holds it."""
    conn.execute(
        update(_CURSORS)
        .where(*_key(campaign_id, receiver), _CURSORS.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )
