"""The ports of :mod:`appcase.ports` on SQLAlchemy: one database transaction per command.

:meth:`SqlStorage.transaction` opens a connection in a transaction and yields a
:class:`Repository` (the :class:`~appcase.ports.CaseStore`); it commits when the block ends
normally and rolls back on any error, so a failed command leaves nothing behind. Every
statement is SQLAlchemy Core, built once; rows come back as the plain records of
:mod:`appcase.ports`, never ORM objects. SQLAlchemy errors are translated here, at the
persistence boundary, into :mod:`appcase.errors` types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from operator import attrgetter
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    case,
    event,
    func,
    insert,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from appcase.errors import (
    AppcaseError,
    CaseDamaged,
    ConcurrentModification,
    DatabaseBusy,
    DatabaseNotReady,
    InvalidInput,
    PersistenceError,
)
from appcase.persistence import salvage
from appcase.persistence.db import READ_ONLY, SQLITE_BUSY_TIMEOUT_MS
from appcase.persistence.models import (
    ActorRow,
    AppRow,
    CampaignRow,
    CaseNumberRow,
    CaseRow,
    CheckpointRow,
    EventRow,
    EvidenceRow,
    FindingRow,
    InterviewRow,
    PledgeRow,
    ReporterRow,
    VerificationRow,
)
from appcase.persistence.transient import unavailable
from appcase.ports import (
    CASE_MOVED,
    CASE_ORDERS,
    CaseFilter,
    EvidenceRecord,
    FindingRecord,
    InterviewRecord,
    PledgeRecord,
    Record,
    RelayCursor,
    ReporterRecord,
    SealedEvent,
    StoredActor,
    StoredAdminAct,
    StoredApp,
    StoredCampaign,
    StoredCase,
    StoredCheckpoint,
    StoredEvent,
    StoredGrant,
    StoredToken,
    VerificationRecord,
    record_fields,
)

__all__ = [
    "CallerConnection",
    "ConnectionStorage",
    "Repository",
    "SqlStorage",
    "is_connection",
]

CallerConnection = Connection | Session
"""What an embedding caller hands appcase to work in its transaction: a SQLAlchemy
``Connection`` or an ORM ``Session``."""


def is_connection(value: object) -> bool:
    """Whether ``value`` is a :data:`CallerConnection` (an open or closed one)."""
    return isinstance(value, Connection | Session)


_S = TypeVar("_S", bound="Select[*tuple[Any, ...]]")
_T = TypeVar("_T")

_CASES = cast(Table, CaseRow.__table__)
_EVENTS = cast(Table, EventRow.__table__)

_ACTORS = cast(Table, ActorRow.__table__)


_moved = attrgetter(*CASE_MOVED)
"""The values of a case's :data:`CASE_MOVED` fields, as a tuple."""


def _changed(case: StoredCase, read: StoredCase) -> tuple[str, ...]:
    """The columns of :data:`CASE_MOVED` in which ``case`` differs from ``read`` (a value
    the command did not touch is the very object read: no comparison needed)."""
    return tuple(
        name
        for name, now, was in zip(CASE_MOVED, _moved(case), _moved(read), strict=True)
        if now is not was and now != was
    )


@cache
def _event_insert() -> Insert:
    return insert(_EVENTS)


@cache
def _driver_insert(
    dialect: Dialect, schema: str | None, names: tuple[str, ...], returning: bool = False
) -> str:
    """``INSERT INTO events (names) VALUES (...)`` in the driver's own parameter style
    (``RETURNING id`` with ``returning``)."""
    marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(names))
    table = _driver_table(dialect, schema, _EVENTS)
    sql = f"INSERT INTO {table} ({_quoted(dialect, names)}) VALUES ({marks})"
    return f"{sql} RETURNING {dialect.identifier_preparer.quote('id')}" if returning else sql


@cache
def _driver_case_update(dialect: Dialect, schema: str | None, names: tuple[str, ...]) -> str:
    """The version-checked update of ``names`` of one case, in the driver's parameter style:
    parameters ``(*values, new_version, id, version)``."""
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    q = dialect.identifier_preparer.quote
    sets = ", ".join(f"{q(n)} = {mark}" for n in (*names, "version"))
    table = _driver_table(dialect, schema, _CASES)
    return f"UPDATE {table} SET {sets} WHERE {q('id')} = {mark} AND {q('version')} = {mark}"


def _driver_table(dialect: Dialect, schema: str | None, table: Table) -> str:
    q = dialect.identifier_preparer.quote
    return f"{q(schema)}.{q(table.name)}" if schema else q(table.name)


def _quoted(dialect: Dialect, names: Sequence[str]) -> str:
    q = dialect.identifier_preparer.quote
    return ", ".join(q(n) for n in names)


@cache
def _bind(dialect: Dialect, table: Table, name: str) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a value of column ``name`` before handing it to the driver
    (the column type's bind processing for ``dialect``), or ``None`` if nothing."""
    kind = table.c[name].type
    return cast("Callable[[Any], Any] | None", kind.dialect_impl(dialect).bind_processor(dialect))


def _bound(
    dialect: Dialect, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """``rows`` (values of ``names``) as the driver takes them; each distinct value of a
    column is processed once (the rows of a batch share most of theirs)."""
    out = [list(r) for r in rows]
    for i, name in enumerate(names):
        proc = _bind(dialect, table, name)
        if proc is None:
            continue
        memo: dict[Any, Any] = {None: None}
        for row in out:
            value = row[i]
            try:
                row[i] = memo[value]
            except KeyError:
                row[i] = memo[value] = proc(value)
            except TypeError:  # not hashable (a JSON object): processed each time
                row[i] = proc(value)
    return [tuple(r) for r in out]


def _connect(bind: Engine, snapshot: bool) -> Connection:
    conn = bind.connect()
    if snapshot and conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def _translate(exc: SQLAlchemyError, case_id: str | None) -> AppcaseError:
    """The appcase error for a database error (the persistence boundary's one mapping)."""
    gone = unavailable(exc)
    if gone is not None and not (case_id is not None and "lock timeout" in str(exc)):
        return gone  # a lock timeout on a case is a conflict over it, below
    if isinstance(exc, StaleDataError):
        return ConcurrentModification(case_id or "?")
    if "cannot contain NUL" in str(getattr(exc, "orig", "")):  # psycopg, before sending
        return InvalidInput(
            "a value holds a NUL character (U+0000), which PostgreSQL cannot store or "
            "compare; remove it"
        )
    if isinstance(exc, IntegrityError):
        if case_id is not None and _is_race(exc):
            return ConcurrentModification(case_id)
        return PersistenceError(f"database error: {exc.orig}")
    if isinstance(exc, OperationalError | ProgrammingError):
        text = str(exc.orig)
        if "no such table" in text or "does not exist" in text:
            return DatabaseNotReady("the database has no appcase schema")
        if "could not serialize" in text or "deadlock" in text or "lock timeout" in text:
            return ConcurrentModification(case_id or "?")
        if "database is locked" in text or "database is busy" in text:
            return DatabaseBusy(
                "the SQLite database stayed locked by another process for more than "
                f"{SQLITE_BUSY_TIMEOUT_MS / 1000:g} s; nothing was written, retry the "
                "command (for many concurrent writers, use PostgreSQL)"
            )
        return PersistenceError(f"database error: {text}")
    # Never the statement or its parameters: they may hold confidential input.
    orig = getattr(exc, "orig", None)
    return PersistenceError(f"database error: {orig if orig is not None else type(exc).__name__}")


_NUMBER_BITS = 40
"""Case numbers are below 2**40 (a campaign has far fewer cases)."""
_PROBES = 64
"""Candidate case numbers asked for at once by :meth:`Repository._highest_taken`."""

_UNDECODABLE = salvage.UNDECODABLE
_why = salvage.why


def _filtered(stmt: _S, campaign_id: str, flt: CaseFilter) -> _S:
    """``stmt`` (a select from ``cases``, joined with ``apps`` if ``flt.text`` is set)
    restricted to the campaign and ``flt``, ordered and limited."""
    stmt = stmt.where(CaseRow.campaign_id == campaign_id).order_by(
        *_case_order(flt.order), CaseRow.id
    )
    if flt.last_event_from is not None:
        stmt = stmt.where(CaseRow.last_occurred_at >= flt.last_event_from)
    if flt.last_event_before is not None:
        stmt = stmt.where(CaseRow.last_occurred_at < flt.last_event_before)
    if flt.states:
        stmt = stmt.where(CaseRow.state.in_(flt.states))
    if flt.judicial_states:
        stmt = stmt.where(CaseRow.judicial_state.in_(flt.judicial_states))
    if flt.prefectures:
        stmt = stmt.where(CaseRow.prefecture.in_(flt.prefectures))
    if flt.pledge_due_before is not None:
        stmt = stmt.where(
            CaseRow.state == "pledged", CaseRow.pledge_due_at <= flt.pledge_due_before
        )
    if flt.text:
        like = f"%{flt.text}%"
        stmt = stmt.where(
            or_(AppRow.name.like(like), AppRow.operator.like(like), CaseRow.id.like(like))
        )
    if flt.after_id is not None:
        stmt = stmt.where(CaseRow.id > flt.after_id)
    if flt.limit is not None:
        stmt = stmt.limit(flt.limit)
    return stmt


def _case_order(order: str) -> tuple[Any, ...]:
    if order == "id":
        return ()
    if order == "state":
        from appcase.states import State

        return (case({s.value: i for i, s in enumerate(State)}, value=CaseRow.state, else_=99),)
    if order == "prefecture":
        return (CaseRow.prefecture,)
    if order == "last-event":
        return (CaseRow.last_occurred_at,)
    raise ValueError(f"unknown case order {order!r}; one of {', '.join(CASE_ORDERS)}")


def _is_race(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "unique" in text or "duplicate key" in text


# --- the ports' implementation ----------------------------------------------------------
_APPS = cast(Table, AppRow.__table__)
_NUMBERS = cast(Table, CaseNumberRow.__table__)
_LAST_NUMBER = (1 << _NUMBER_BITS) - 1
"""The highest case number; a counter row outside ``0 .. _LAST_NUMBER`` (a hand edit: a
negative number, one past the bound, on SQLite a text or a blob) holds none."""
_TAKE_NUMBER = (
    update(_NUMBERS)
    .where(
        _NUMBERS.c.campaign_id == bindparam("c"),
        _NUMBERS.c.prefecture == bindparam("p"),
        # a row holding no case number is left alone, and rebuilt as a missing one
        _NUMBERS.c.last_number >= 0,
        _NUMBERS.c.last_number < _LAST_NUMBER,
    )
    .values(last_number=_NUMBERS.c.last_number + 1)
    .returning(_NUMBERS.c.last_number)
)
_SET_NUMBER = (
    update(_NUMBERS)
    .where(
        _NUMBERS.c.campaign_id == bindparam("c"),
        _NUMBERS.c.prefecture == bindparam("p"),
    )
    .values(last_number=bindparam("n"))
)
_CAMPAIGNS = cast(Table, CampaignRow.__table__)
_CHECKPOINTS = cast(Table, CheckpointRow.__table__)
_REPORTERS = cast(Table, ReporterRow.__table__)
_RECORD_TABLES: dict[type, Table] = {
    EvidenceRecord: cast(Table, EvidenceRow.__table__),
    FindingRecord: cast(Table, FindingRow.__table__),
    InterviewRecord: cast(Table, InterviewRow.__table__),
    PledgeRecord: cast(Table, PledgeRow.__table__),
    VerificationRecord: cast(Table, VerificationRow.__table__),
}


def _columns(table: Table, names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(table.c[n] for n in names)


_EVENT_NAMES = tuple(
    f for f in StoredEvent.__dataclass_fields__ if f not in ("position", "canonical")
)
_EVENT_COLUMNS = (_EVENTS.c.id, *_columns(_EVENTS, _EVENT_NAMES))
_PAYLOAD_AT = 1 + _EVENT_NAMES.index("payload")
_FEED_COLUMNS = tuple(c for c in _EVENT_COLUMNS if c.name != "payload")
_APP_COLUMNS = _columns(_APPS, tuple(StoredApp.__dataclass_fields__))
_ACTOR_COLUMNS = _columns(_ACTORS, tuple(StoredActor.__dataclass_fields__))
_CAMPAIGN_COLUMNS = _columns(_CAMPAIGNS, tuple(StoredCampaign.__dataclass_fields__))
_CHECKPOINT_COLUMNS = _columns(_CHECKPOINTS, tuple(StoredCheckpoint.__dataclass_fields__))
_STORED_CASE_COLUMNS = _columns(_CASES, tuple(StoredCase.__dataclass_fields__))

_Q_CASE = select(*_STORED_CASE_COLUMNS).where(_CASES.c.id == bindparam("id"))
_Q_CASE_FOR_UPDATE = _Q_CASE.with_for_update()
_LAST = _EVENTS.alias("last_event")
_NEXT = _EVENTS.alias("next_event")
_Q_CASE_HEAD = (
    select(*_STORED_CASE_COLUMNS, _LAST.c.hash, _NEXT.c.hash, *_ACTOR_COLUMNS)
    .outerjoin(_LAST, and_(_LAST.c.case_id == _CASES.c.id, _LAST.c.seq == _CASES.c.event_count))
    .outerjoin(_NEXT, and_(_NEXT.c.case_id == _CASES.c.id, _NEXT.c.seq == _CASES.c.event_count + 1))
    .outerjoin(_ACTORS, _ACTORS.c.id == bindparam("actor"))
    .where(_CASES.c.id == bindparam("id"))
)
_N_ACTOR = len(_ACTOR_COLUMNS)
_Q_CASE_HEAD_FOR_UPDATE = _Q_CASE_HEAD.with_for_update(of=_CASES)
_Q_HEADS_OF = select(*_STORED_CASE_COLUMNS, _LAST.c.hash, _NEXT.c.hash).select_from(
    _CASES.outerjoin(
        _LAST, and_(_LAST.c.case_id == _CASES.c.id, _LAST.c.seq == _CASES.c.event_count)
    ).outerjoin(
        _NEXT, and_(_NEXT.c.case_id == _CASES.c.id, _NEXT.c.seq == _CASES.c.event_count + 1)
    )
)
_Q_APP = select(*_APP_COLUMNS).where(_APPS.c.id == bindparam("id"))
_Q_ACTOR = select(*_ACTOR_COLUMNS).where(_ACTORS.c.id == bindparam("id"))
_Q_EVENTS = (
    select(*_EVENT_COLUMNS).where(_EVENTS.c.case_id == bindparam("case_id")).order_by(_EVENTS.c.seq)
)
_Q_EVENT_BY_KEY = select(*_EVENT_COLUMNS).where(_EVENTS.c.idempotency_key == bindparam("key"))


_FEED_LOCK = text("SELECT pg_advisory_xact_lock(7021235391209629030)")
"""The transaction-level advisory lock every writer of events takes on PostgreSQL (the key
is fixed: the bytes ``appcasef`` as a big-endian integer), held until its commit or rollback."""


def _event(row: Any) -> StoredEvent:
    return StoredEvent(*row)


class Repository:
    """The ports' implementation: the reads of :class:`~appcase.ports.Queries` and the
    writes of :class:`~appcase.ports.CaseStore`, as SQLAlchemy Core statements on one
    connection in one transaction, returning the plain records of :mod:`appcase.ports`.

    Attributes:
        conn: the SQLAlchemy Core connection, in its transaction.
        case_id: the case being written, named by a :class:`ConcurrentModification` if the
            transaction loses a race (a survey sets it once it has a case number).
    """

    def __init__(self, conn: Connection, case_id: str | None = None) -> None:
        self.conn = conn
        self.case_id = case_id
        self.committed: list[Callable[[], object]] = []
        """Callbacks to call once the transaction has committed (:meth:`after_commit`)."""
        self._feed_locked = False

    # reads ------------------------------------------------------------------------------
    def campaign(self, campaign_id: str) -> StoredCampaign | None:
        """The stored campaign with this id, or ``None``."""
        row = self.conn.execute(
            select(*_CAMPAIGN_COLUMNS).where(_CAMPAIGNS.c.id == campaign_id)
        ).first()
        return StoredCampaign(*row) if row is not None else None

    def campaigns(self) -> list[StoredCampaign]:
        """Every stored campaign, by id."""
        rows = self.conn.execute(select(*_CAMPAIGN_COLUMNS).order_by(_CAMPAIGNS.c.id))
        return [StoredCampaign(*r) for r in rows]

    def actor(self, actor_id: str) -> StoredActor | None:
        """The registered actor with this id, or ``None``."""
        row = self.conn.execute(_Q_ACTOR, {"id": actor_id}).first()
        return StoredActor(*row) if row is not None else None

    def actors(self) -> list[StoredActor]:
        """Every registered actor, by id."""
        rows = self.conn.execute(select(*_ACTOR_COLUMNS).order_by(_ACTORS.c.id))
        return [StoredActor(*r) for r in rows]

    def case(self, case_id: str, *, for_update: bool = False) -> StoredCase | None:
        """The case with this id, or ``None``.

        Args:
            case_id: the case's id.
            for_update: lock the row until the transaction ends (PostgreSQL's
                ``SELECT ... FOR UPDATE``; SQLite's write transaction already excludes
                other writers).
        """
        row = self.conn.execute(_Q_CASE_FOR_UPDATE if for_update else _Q_CASE, {"id": case_id})
        try:
            found = row.first()
            return StoredCase(*found) if found is not None else None
        except _UNDECODABLE as exc:
            raise CaseDamaged(case_id, f"its row cannot be read: {_why(exc)}") from None

    def case_with_head(
        self, case_id: str, *, for_update: bool = False, actor_id: str | None = None
    ) -> tuple[StoredCase, str | None, str | None, StoredActor | None] | None:
        """The case with this id, the hashes of its stored events number ``event_count``
        and ``event_count + 1`` (``None`` where there is none) and the registered actor
        ``actor_id`` (``None``: not asked, or not registered), in one query (outer joins on
        the events' unique ``(case_id, seq)`` and the actors' id); ``for_update`` locks the
        case row as :meth:`case` does.

        Raises:
            CaseDamaged: the case's row cannot be read (a value stored outside appcase).
        """
        stmt = _Q_CASE_HEAD
        if for_update and self.conn.dialect.name == "postgresql":
            # Lock first, then read in a new statement: at READ COMMITTED a locked row that
            # moved on while this waited is re-read, but not the events joined to it.
            self.conn.execute(_Q_CASE_FOR_UPDATE, {"id": case_id})
        elif for_update:
            stmt = _Q_CASE_HEAD_FOR_UPDATE
        try:
            row = self.conn.execute(stmt, {"id": case_id, "actor": actor_id}).first()
            if row is None:
                return None
            n = len(row) - _N_ACTOR
            actor = StoredActor(*row[n:]) if row[n] is not None else None
            return StoredCase(*row[: n - 2]), row[n - 2], row[n - 1], actor
        except _UNDECODABLE as exc:
            raise CaseDamaged(case_id, f"its row cannot be read: {_why(exc)}") from None

    def case_heads(
        self, campaign_id: str, flt: CaseFilter
    ) -> list[tuple[StoredCase, str | None, str | None]]:
        """The campaign's cases matching ``flt`` (as :meth:`case_states` reads them, locked
        with ``flt.skip_locked`` on PostgreSQL), each with the hashes of its stored events
        number ``event_count`` and ``event_count + 1`` (``None`` where there is none), by
        outer joins on the events' unique ``(case_id, seq)``.

        On SQLite that is one statement (a write transaction excludes other writers). On
        PostgreSQL the batch is locked first and read with its events in a second
        statement: at READ COMMITTED a locked row that moved on is re-read, but not the
        events joined to it.

        Raises:
            RowsUnreadable: some cases' rows cannot be read (it carries the others).
        """
        stmt = _filtered(_Q_HEADS_OF, campaign_id, flt)
        if flt.skip_locked and self.conn.dialect.name == "postgresql":
            locked = _filtered(select(_CASES.c.id), campaign_id, flt).with_for_update(
                skip_locked=True, of=_CASES
            )
            ids = list(self.conn.scalars(locked))
            stmt = _filtered(
                _Q_HEADS_OF.where(_CASES.c.id.in_(ids)), campaign_id, CaseFilter(order=flt.order)
            )
        return self._decoded(stmt, lambda row: (StoredCase(*row[:-2]), row[-2], row[-1]))

    def app(self, app_id: int) -> StoredApp:
        """The ledger entry with this id (it exists: cases reference it)."""
        row = self.conn.execute(_Q_APP, {"id": app_id}).first()
        assert row is not None
        return StoredApp(*row)

    def cases(self, campaign_id: str, flt: CaseFilter) -> list[tuple[StoredCase, StoredApp]]:
        """The campaign's cases matching ``flt``, in ``flt.order``, with their apps.

        Raises:
            RowsUnreadable: some cases' rows cannot be read (it carries the others).
        """
        n = len(_STORED_CASE_COLUMNS)
        stmt = _filtered(
            select(*_STORED_CASE_COLUMNS, *_APP_COLUMNS).join(_APPS, _APPS.c.id == _CASES.c.app_id),
            campaign_id,
            flt,
        )
        if flt.skip_locked and self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=_CASES)

        def decode(r: Any) -> tuple[StoredCase, StoredApp]:
            return StoredCase(*r[:n]), StoredApp(*r[n:])

        return self._decoded(stmt, decode)

    def case_states(self, campaign_id: str, flt: CaseFilter) -> list[StoredCase]:
        """The campaign's cases matching ``flt`` without their apps, in ``flt.order``; with
        ``flt.skip_locked`` on PostgreSQL the rows are locked (``FOR UPDATE SKIP LOCKED``)."""
        stmt = select(*_STORED_CASE_COLUMNS)
        if flt.text:
            stmt = stmt.join(_APPS, _APPS.c.id == _CASES.c.app_id)
        stmt = _filtered(stmt, campaign_id, flt)
        if flt.skip_locked and self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=_CASES)
        return self._decoded(stmt, lambda row: StoredCase(*row))

    def _decoded(self, stmt: Select[Any], decode: Callable[[Any], _T]) -> list[_T]:
        """The rows of a read of cases, decoded; a row that cannot be decoded makes the
        read fall back to one case at a time (:mod:`appcase.persistence.salvage`).

        Raises:
            RowsUnreadable: some cases' rows cannot be read (it carries the others).
        """
        result = self.conn.execute(stmt)
        try:
            return [decode(row) for row in result]
        except _UNDECODABLE:
            result.close()
            salvage.salvage_cases(self.conn, stmt, _CASES.c.id, decode)

    def events(self, case_id: str) -> list[StoredEvent]:
        """The case's events in chain order.

        Raises:
            CaseDamaged: an event's row cannot be read (a value stored outside appcase).
        """
        try:
            return [_event(r) for r in self.conn.execute(_Q_EVENTS, {"case_id": case_id})]
        except _UNDECODABLE as exc:
            raise CaseDamaged(case_id, f"an event's row cannot be read: {_why(exc)}") from None

    def events_of(self, case_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        """The events of many cases, in chain order, keyed by case id (one query).

        Raises:
            RowsUnreadable: some cases' events cannot be read (it carries the others').
        """
        out: dict[str, list[StoredEvent]] = {c: [] for c in case_ids}
        if not case_ids:
            return out
        stmt = (
            select(*_EVENT_COLUMNS)
            .where(_EVENTS.c.case_id.in_(list(case_ids)))
            .order_by(_EVENTS.c.case_id, _EVENTS.c.seq)
        )
        result = self.conn.execute(stmt)
        try:
            for row in result:
                ev = _event(row)
                out[ev.case_id].append(ev)
        except _UNDECODABLE:
            result.close()
            salvage.salvage_events(self.conn, _EVENTS, _EVENT_COLUMNS, list(out), _event)
        return out

    def event_by_key(self, key: str) -> StoredEvent | None:
        """The event written with this idempotency key, or ``None``."""
        row = self.conn.execute(_Q_EVENT_BY_KEY, {"key": key}).first()
        return _event(row) if row is not None else None

    def reporter(self, ref: str) -> ReporterRecord | None:
        """The confidential reporter record behind a reference, or ``None``."""
        t = _REPORTERS
        row = self.conn.execute(
            select(t.c.ref, t.c.case_id, t.c.name, t.c.contact, t.c.created_at).where(
                t.c.ref == ref
            )
        ).first()
        return ReporterRecord(*row) if row is not None else None

    def checkpoints(self, campaign_id: str) -> list[StoredCheckpoint]:
        """The campaign's checkpoints in order."""
        rows = self.conn.execute(
            select(*_CHECKPOINT_COLUMNS)
            .where(_CHECKPOINTS.c.campaign_id == campaign_id)
            .order_by(_CHECKPOINTS.c.seq)
        )
        return [StoredCheckpoint(*r) for r in rows]

    # what commands read -----------------------------------------------------------------
    def find_app(self, campaign_id: str, uscc: str, name: str) -> StoredApp | None:
        """The campaign's ledger entry with this credit code and name, or ``None``."""
        row = self.conn.execute(
            select(*_APP_COLUMNS).where(
                _APPS.c.campaign_id == campaign_id, _APPS.c.uscc == uscc, _APPS.c.name == name
            )
        ).first()
        return StoredApp(*row) if row is not None else None

    def take_case_number(
        self, campaign_id: str, prefecture: str, case_id: Callable[[str, int], str]
    ) -> int:
        """The prefecture's next case number, taken: its row of ``case_numbers`` is moved
        on by one (one keyed ``UPDATE … RETURNING``, whatever the size of the base; on
        PostgreSQL the row stays locked until the transaction ends, so racing surveys of
        one prefecture take consecutive numbers; the events' feed lock is taken before it,
        as by every writer of events, so that no two transactions take the two in opposite
        orders). A prefecture without a row, or whose row holds no case number, gets one
        from the ids that exist (:meth:`claim_case_numbers`).

        Raises:
            PersistenceError: the prefecture has given its last case number."""
        key = {"c": campaign_id, "p": prefecture}
        # the feed lock first: a survey writes events, and a transaction that holds the feed
        # lock (it wrote events) and then surveys would otherwise wait for this counter while
        # its holder waits for the feed lock -- a deadlock
        self.lock_feed()
        row = self.conn.execute(_TAKE_NUMBER, key).first()
        if row is None:
            self.claim_case_numbers(campaign_id, [prefecture], case_id)
            row = self.conn.execute(_TAKE_NUMBER, key).first()
            if row is None:
                raise PersistenceError(
                    f"prefecture {prefecture} has given its last case number ({_LAST_NUMBER})"
                )
        return int(row[0])

    def claim_case_numbers(
        self, campaign_id: str, prefectures: Sequence[str], case_id: Callable[[str, int], str]
    ) -> dict[str, int]:
        """The highest case number given in each of ``prefectures``: each row of
        ``case_numbers`` is brought up to the highest number among the case ids that exist
        (created if missing) and, on PostgreSQL, locked until the transaction ends, in
        prefecture order. A few primary-key statements per prefecture
        (:meth:`_highest_taken`); for a bulk survey, and for a survey whose number was
        found taken (a row behind the ids)."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        self.lock_feed()  # before the counters, as in take_case_number
        numbers: dict[str, int] = {}
        for prefecture in sorted(set(prefectures)):
            highest = self._highest_taken(campaign_id, prefecture, case_id)
            stmt = dialect.insert(_NUMBERS).values(
                campaign_id=campaign_id, prefecture=prefecture, last_number=highest
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[_NUMBERS.c.campaign_id, _NUMBERS.c.prefecture],
                set_={
                    "last_number": case(
                        (
                            or_(
                                _NUMBERS.c.last_number < highest,
                                _NUMBERS.c.last_number > _LAST_NUMBER,  # no case number
                            ),
                            highest,
                        ),
                        else_=_NUMBERS.c.last_number,
                    )
                },
            ).returning(_NUMBERS.c.last_number)
            numbers[prefecture] = int(self.conn.execute(stmt).scalar_one())
        return numbers

    def set_case_numbers(self, campaign_id: str, numbers: Mapping[str, int]) -> None:
        """Record the highest case number given per prefecture (rows that
        :meth:`claim_case_numbers` made and locked in this transaction).

        Raises:
            PersistenceError: a number past the highest case number (nothing is recorded)."""
        for prefecture, number in numbers.items():
            if number > _LAST_NUMBER:
                raise PersistenceError(
                    f"prefecture {prefecture} has given its last case number ({_LAST_NUMBER})"
                )
        if numbers:
            self.conn.execute(
                _SET_NUMBER, [{"c": campaign_id, "p": p, "n": n} for p, n in numbers.items()]
            )

    def _highest_taken(
        self, campaign_id: str, prefecture: str, case_id: Callable[[str, int], str]
    ) -> int:
        """The highest case number of this prefecture among the case ids that exist (0 if
        none).

        Numbers are dense from 1 (each survey takes the next; cases are never deleted), so
        number ``n`` is taken exactly when ``n`` is at most the highest. That is found by
        asking which of some candidate ids exist, by primary key: the powers of two first,
        then up to :data:`_PROBES` numbers a round between the highest taken and the lowest
        free candidate -- a few statements of a few dozen key lookups, where counting the
        prefecture's cases read all of them."""

        def taken(numbers: Sequence[int]) -> list[int]:
            ids = {case_id(prefecture, n): n for n in numbers}
            rows = self.conn.execute(
                select(_CASES.c.id).where(
                    _CASES.c.id.in_(list(ids)),
                    _CASES.c.campaign_id == campaign_id,
                    _CASES.c.prefecture == prefecture,
                )
            )
            return [ids[row[0]] for row in rows]

        found = taken([1 << k for k in range(_NUMBER_BITS)])
        if not found:
            return 0
        low = max(found)  # taken
        high = 2 * low  # free: the next power of two was not found
        while high - low > 1:
            step = max(1, (high - low) // _PROBES)
            candidates = list(range(low + step, high, step))
            low = max(taken(candidates), default=low)
            high = min((c for c in candidates if c > low), default=high)
        return low

    def ledger_identities(self, campaign_id: str) -> set[tuple[str, str]]:
        """``(uscc, name)`` of every app in the campaign's ledger (one query)."""
        rows = self.conn.execute(
            select(_APPS.c.uscc, _APPS.c.name).where(_APPS.c.campaign_id == campaign_id)
        )
        return {(uscc, name) for uscc, name in rows}

    def prior_judgments(
        self,
        *,
        uscc: str,
        name: str,
        icp_filing: str | None,
        before: datetime,
        dispositions: Sequence[str],
    ) -> int:
        """How many judgments with one of ``dispositions`` the same app (same name or ICP
        filing) or operator (same credit code) received before ``before`` (aware), in any
        campaign stored -- an earlier round of the case itself included."""
        # From the apps (each condition on an index of its own), to their cases (by
        # app), to the cases' events (by case): never the whole events table.
        same = [_APPS.c.uscc == uscc, _APPS.c.name == name]
        if icp_filing:
            same.append(_APPS.c.icp_filing == icp_filing)
        apps = union(*(select(_APPS.c.id).where(cond) for cond in same))
        count = self.conn.scalar(
            select(func.count())
            .select_from(_CASES)
            .join(_EVENTS, _EVENTS.c.case_id == _CASES.c.id)
            .where(
                _CASES.c.app_id.in_(apps.scalar_subquery()),
                _EVENTS.c.event == "judge",
                _EVENTS.c.occurred_at < before,
                _EVENTS.c.payload["disposition"].as_string().in_(list(dispositions)),
            )
        )
        return int(count or 0)

    def evidence_numbers(self, case_id: str) -> frozenset[int]:
        """Numbers of the case's evidence items."""
        t = _RECORD_TABLES[EvidenceRecord]
        return frozenset(self.conn.scalars(select(t.c.number).where(t.c.case_id == case_id)))

    def latest_interview(self, case_id: str) -> InterviewRecord | None:
        """The case's most recent interview record, or ``None``."""
        return self._latest(InterviewRecord, case_id)

    def latest_pledge(self, case_id: str) -> PledgeRecord | None:
        """The case's most recent pledge, or ``None``."""
        return self._latest(PledgeRecord, case_id)

    def _latest(self, kind: type[_R], case_id: str) -> _R | None:
        t = _RECORD_TABLES[kind]
        cols = _columns(t, tuple(kind.__dataclass_fields__))
        row = self.conn.execute(
            select(*cols).where(t.c.case_id == case_id).order_by(t.c.id.desc()).limit(1)
        ).first()
        return kind(*row) if row is not None else None

    # writes -----------------------------------------------------------------------------
    def add_actor(self, actor: StoredActor, created_at: datetime) -> None:
        """Register an actor."""
        self.conn.execute(insert(_ACTORS), {**record_fields(actor), "created_at": created_at})

    def add_campaign(self, campaign: StoredCampaign) -> None:
        """Store a campaign."""
        self.conn.execute(insert(_CAMPAIGNS), record_fields(campaign))

    def add_app(self, app: StoredApp) -> int:
        """Write a ledger entry (its ``id`` is ignored); returns the id given to it."""
        values = record_fields(app)
        del values["id"]
        key = self.conn.execute(insert(_APPS), values).inserted_primary_key
        assert key is not None
        return int(key[0])

    def add_case(self, case: StoredCase) -> None:
        """Write a new case."""
        self.conn.execute(insert(_CASES), record_fields(case))

    def save_case(self, case: StoredCase, read: StoredCase) -> None:
        """Write a command's changes of ``case`` (the fields of :data:`CASE_MOVED` in which
        it differs from ``read``, the case as it was read), if the stored case is still at
        ``read.version``; then ``case.version`` is ``read.version + 1``.

        Raises:
            ConcurrentModification: the case moved on since it was read; nothing of this
                update was written (the caller's transaction is to be rolled back).
        """
        columns = _changed(case, read)
        values = (*(getattr(case, n) for n in columns), read.version + 1, case.id, read.version)
        dialect = self.conn.dialect
        [row] = _bound(dialect, _CASES, (*columns, "version", "id", "version"), [values])
        done = self.conn.exec_driver_sql(_driver_case_update(dialect, self._schema(), columns), row)
        if done.rowcount != 1:
            raise ConcurrentModification(case.id)
        case.version = read.version + 1

    def lock_feed(self) -> None:
        """Make positions follow commit order: on PostgreSQL, writers of events take one
        transaction-level advisory lock before their first event, so that a transaction
        that commits later never holds a lower position than one a reader has already seen
        (an autoincrement id alone does not give that: transactions commit out of id
        order). SQLite already admits one writer at a time."""
        if not self._feed_locked and self.conn.dialect.name == "postgresql":
            self.conn.execute(_FEED_LOCK)
        self._feed_locked = True

    def append_event(self, columns: dict[str, Any]) -> int:
        """Insert one event (``columns`` as :class:`~appcase.ports.StoredEvent` names them,
        without ``position``); returns its position (the row id)."""
        self.lock_feed()
        dialect = self.conn.dialect
        names = tuple(columns)
        [row] = _bound(dialect, _EVENTS, names, [tuple(columns.values())])
        server = dialect.name == "postgresql"
        sql = _driver_insert(dialect, self._schema(), names, server)
        done = self.conn.exec_driver_sql(sql, row)
        return int(done.scalar_one() if server else done.lastrowid)

    def append_events(
        self, rows: Sequence[dict[str, Any]], *, positions: bool = False
    ) -> list[int]:
        """Insert many events with one statement.

        Args:
            rows: the events' columns.
            positions: return their positions (costs a ``RETURNING``); else ``[]``.
        """
        if not rows:
            return []
        self.lock_feed()
        if not positions:
            self.conn.execute(_event_insert(), list(rows))
            return []
        result = self.conn.execute(
            _event_insert().returning(_EVENTS.c.id, sort_by_parameter_order=True), list(rows)
        )
        return [int(r[0]) for r in result]

    def insert_events(
        self,
        shared: Mapping[str, Any],
        names: tuple[str, ...],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        """Insert many events that share most of their columns, with one ``executemany``
        of the driver in this transaction; SQLAlchemy's bind processing of each column
        (instants in UTC, JSON) is applied to each distinct value once.

        Args:
            shared: the columns every event has alike, as :class:`~appcase.ports.StoredEvent`
                names them.
            names: the other columns (with ``hash``).
            rows: one tuple of values of ``names`` per event.
        """
        if not rows:
            return
        self.lock_feed()
        dialect = self.conn.dialect
        fixed = tuple(shared)
        [constants] = _bound(dialect, _EVENTS, fixed, [tuple(shared.values())])
        own = _bound(dialect, _EVENTS, names, rows)
        sql = _driver_insert(dialect, self._schema(), (*names, *fixed))
        self.conn.exec_driver_sql(sql, [(*r, *constants) for r in own])

    def save_moves(self, moves: Sequence[tuple[StoredCase, Any]]) -> bool:
        """Write many cases' changes as :meth:`save_case` does, from each case as read
        and the case after its event (anything with the attributes :data:`CASE_MOVED`
        names, such as :class:`~appcase.audit.fold.CaseFold`), with one ``executemany`` of
        the driver in this transaction.

        Returns:
            ``True`` if every case was still at its read version and is written; ``False``
            if any was not (then the caller must roll back: the others were written).
        """
        if not moves:
            return True
        pairs = [(_moved(read), _moved(after)) for read, after in moves]
        changed = [
            any(b[i] is not a[i] and b[i] != a[i] for b, a in pairs) for i in range(len(CASE_MOVED))
        ]
        at = [i for i, yes in enumerate(changed) if yes]
        columns = tuple(CASE_MOVED[i] for i in at)
        rows = [
            (*[a[i] for i in at], read.version + 1, read.id, read.version)
            for (read, _), (_, a) in zip(moves, pairs, strict=True)
        ]
        dialect = self.conn.dialect
        bound = _bound(dialect, _CASES, (*columns, "version", "id", "version"), rows)
        sql = _driver_case_update(dialect, self._schema(), columns)
        done = self.conn.exec_driver_sql(sql, bound)
        return bool(done.rowcount == len(rows))

    def _schema(self) -> str | None:
        """The schema appcase's tables are in, when a caller's connection maps it."""
        conn = self.conn
        options = conn.options if isinstance(conn, _Scoped) else conn.get_execution_options()
        mapped = options.get("schema_translate_map") or {}
        return cast("str | None", mapped.get(None))

    def add_records(self, records: Sequence[Record]) -> None:
        """Write an event's records (one statement per kind)."""
        by_kind: dict[type, list[dict[str, Any]]] = {}
        for rec in records:
            by_kind.setdefault(type(rec), []).append(record_fields(rec))
        for kind, rows in by_kind.items():
            self.conn.execute(insert(_RECORD_TABLES[kind]), rows)

    def add_reporter(self, reporter: ReporterRecord) -> None:
        """Write a hotline reporter's confidential details."""
        self.conn.execute(insert(_REPORTERS), record_fields(reporter))

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint: if the block raises, what it wrote is undone, the error propagates
        (a database error as the appcase error for it), and the transaction goes on as it
        was before the block."""
        mark = len(self.committed)
        try:
            with self.conn.begin_nested():
                yield
        except BaseException as exc:
            del self.committed[mark:]  # what the block registered will never commit
            if isinstance(exc, SQLAlchemyError):
                raise _translate(exc, self.case_id) from None
            raise

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once the transaction has committed (the storage that opened it
        does); never if it, or the savepoint that registered it, rolls back."""
        self.committed.append(callback)

    def feed(self, campaign_id: str, after: int, limit: int) -> list[StoredEvent]:
        """The campaign's events with a position above ``after``, by position, at most
        ``limit`` (see :meth:`lock_feed` for why positions follow commit order). A feed
        entry carries no payload, so the payloads are not read (``payload`` is ``{}``): a
        damaged payload never stops the feed.

        The events are walked by position from ``after`` and each one's case checked
        (``EXISTS``), so that a read costs ``limit`` lookups however large the base; a join
        let SQLite start from the campaign's cases and sort all their events."""
        of_campaign = (
            select(_CASES.c.id)
            .where(_CASES.c.id == _EVENTS.c.case_id, _CASES.c.campaign_id == campaign_id)
            .exists()
        )
        stmt = (
            select(*_FEED_COLUMNS)
            .where(_EVENTS.c.id > after, of_campaign)
            .order_by(_EVENTS.c.id)
            .limit(limit)
        )
        return [_event((*r[:_PAYLOAD_AT], {}, *r[_PAYLOAD_AT:])) for r in self.conn.execute(stmt)]

    # --- audit: checkpoints, heads, events up to an instant ------------------------------
    # The statements are in appcase.persistence.audit_queries, imported where used so that
    # this section, which ends the class, is all the audit adds to this module.
    def latest_checkpoint(self, campaign_id: str) -> StoredCheckpoint | None:
        """The campaign's checkpoint of the highest ``seq``, or ``None``."""
        from appcase.persistence import audit_queries

        return audit_queries.latest_checkpoint(self.conn, campaign_id)

    def heads(self, campaign_id: str) -> list[tuple[str, int, str]]:
        """``(case_id, event_count, head_hash)`` of every case of the campaign, by case id
        (code points)."""
        from appcase.persistence import audit_queries

        return audit_queries.heads(self.conn, campaign_id)

    def events_until(
        self, case_ids: Sequence[str], at: datetime, *, recorded: bool = False
    ) -> dict[str, list[StoredEvent]]:
        """The events of many cases that occurred (with ``recorded``: were recorded) at or
        before ``at`` (aware), in chain order, keyed by case id (one query)."""
        from appcase.persistence import audit_queries

        return audit_queries.events_until(self.conn, case_ids, at, recorded=recorded)

    def lock_checkpoints(self) -> None:
        """Hold other checkpoints off until the transaction ends (a table lock on
        PostgreSQL that readers pass; SQLite's write transaction excludes them already)."""
        from appcase.persistence import audit_queries

        audit_queries.lock_checkpoints(self.conn)

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Write a checkpoint row."""
        from appcase.persistence import audit_queries

        audit_queries.add_checkpoint(self.conn, checkpoint)

    def sealed_events(self, campaign_id: str, case_id: str | None = None) -> Iterator[SealedEvent]:
        """Every event of the campaign's cases (or of one), by case id then ``seq``, with
        the bytes hashed, streamed by one query (nothing decoded)."""
        from appcase.persistence import audit_queries

        return audit_queries.sealed_events(self.conn, campaign_id, case_id)

    def records_of(self, case_ids: Sequence[str]) -> dict[str, list[Record]]:
        """The records of many cases, keyed by case id, each kind in the order written."""
        from appcase.persistence import record_queries

        return record_queries.records_of(self.conn, case_ids)

    # --- end of the audit section --------------------------------------------------------

    # --- the ledger import's reads ------------------------------------------------------
    # (Queries.ledger_apps; here at the end of the class. The summary report reads cases,
    # events and records in batches through the reads above.)
    def ledger_apps(self, campaign_id: str) -> list[tuple[StoredApp, str]]:
        """Every app in the campaign's ledger with its case id, by case id (one query)."""
        stmt = (
            select(*_APP_COLUMNS, _CASES.c.id)
            .join(_CASES, _CASES.c.app_id == _APPS.c.id)
            .where(_APPS.c.campaign_id == campaign_id)
            .order_by(_CASES.c.id)
        )
        return [(StoredApp(*r[:-1]), r[-1]) for r in self.conn.execute(stmt)]

    # --- end of the ledger import's reads ---------------------------------------------

    # --- the webhook relay's cursor and lease ----------------------------------------
    # The statements are in appcase.persistence.relay_queries, imported where used so that
    # this section, at the end of the class, is all the relay adds to this module.
    def relay_cursor(self, campaign_id: str, receiver: str) -> RelayCursor | None:
        """The receiver's relay cursor in the campaign, or ``None``."""
        from appcase.persistence import relay_queries

        return relay_queries.relay_cursor(self.conn, campaign_id, receiver)

    def claim_relay_lease(
        self, campaign_id: str, receiver: str, owner: str, now: datetime, until: datetime
    ) -> RelayCursor | None:
        """Take or renew the receiver's lease for ``owner`` (compare-and-set)."""
        from appcase.persistence import relay_queries

        return relay_queries.claim_relay_lease(self.conn, campaign_id, receiver, owner, now, until)

    def advance_relay_cursor(
        self, campaign_id: str, receiver: str, owner: str, position: int, now: datetime
    ) -> bool:
        """Move the cursor forward to ``position`` if ``owner`` holds the lease."""
        from appcase.persistence import relay_queries

        return relay_queries.advance_relay_cursor(
            self.conn, campaign_id, receiver, owner, position, now
        )

    def note_relay_failure(
        self,
        campaign_id: str,
        receiver: str,
        owner: str,
        since: datetime,
        error: str,
        now: datetime,
    ) -> bool:
        """Record a failed delivery attempt if ``owner`` holds the lease."""
        from appcase.persistence import relay_queries

        return relay_queries.note_relay_failure(
            self.conn, campaign_id, receiver, owner, since, error, now
        )

    def release_relay_lease(self, campaign_id: str, receiver: str, owner: str) -> None:
        """Give the receiver's lease up if ``owner`` holds it."""
        from appcase.persistence import relay_queries

        relay_queries.release_relay_lease(self.conn, campaign_id, receiver, owner)

    # --- end of the webhook relay's cursor and lease ---------------------------------

    # --- API tokens (Queries.token_by_digest, tokens; CaseStore.add_token, revoke_token) --
    # The statements are in appcase.persistence.token_queries, imported where used.
    def token_by_digest(self, digest: str) -> StoredToken | None:
        """The token whose SHA-256 is ``digest``, or ``None``."""
        from appcase.persistence import token_queries

        return token_queries.token_by_digest(self.conn, digest)

    def tokens(self, actor_id: str | None = None) -> list[StoredToken]:
        """Every token (of one actor, if given), by creation time then id."""
        from appcase.persistence import token_queries

        return token_queries.tokens(self.conn, actor_id)

    def add_token(self, token: StoredToken) -> None:
        """Store a token's record (its digest, never the token)."""
        from appcase.persistence import token_queries

        token_queries.add_token(self.conn, token)

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        """Revoke a token; ``False`` if unknown or already revoked."""
        from appcase.persistence import token_queries

        return token_queries.revoke_token(self.conn, token_id, at)

    # --- end of the API tokens ----------------------------------------------------------

    # --- governance: the administrators' log, override grants -----------------------------
    # The statements are in appcase.persistence.governance_queries, imported where used.
    def admin_acts(self, after: int = 0) -> list[StoredAdminAct]:
        """The administrators' log after ``seq`` ``after``, in order."""
        from appcase.persistence import governance_queries

        return governance_queries.admin_acts(self.conn, after)

    def last_admin_act(self) -> StoredAdminAct | None:
        """The administrators' log's last entry, or ``None``."""
        from appcase.persistence import governance_queries

        return governance_queries.last_admin_act(self.conn)

    def add_admin_act(self, act: StoredAdminAct) -> None:
        """Append an entry to the administrators' log."""
        from appcase.persistence import governance_queries

        governance_queries.add_admin_act(self.conn, act)

    def administrators(self) -> list[StoredActor]:
        """Every actor of the ``administrator`` role, by id."""
        from appcase.persistence import governance_queries
        from appcase.policies.permissions import ADMIN_ROLE

        return governance_queries.administrators(self.conn, ADMIN_ROLE)

    def grant(self, grant_id: str) -> StoredGrant | None:
        """The override grant with this id, or ``None``."""
        from appcase.persistence import governance_queries

        return governance_queries.grant(self.conn, grant_id)

    def grants(self, case_id: str | None = None) -> list[StoredGrant]:
        """Every override grant (of one case, if given), by creation time then id."""
        from appcase.persistence import governance_queries

        return governance_queries.grants(self.conn, case_id)

    def add_grant(self, grant: StoredGrant) -> None:
        """Store an override grant."""
        from appcase.persistence import governance_queries

        governance_queries.add_grant(self.conn, grant)

    def revoke_grant(self, grant_id: str, by: str, at: datetime) -> bool:
        """Revoke a grant; ``False`` if unknown, revoked or used."""
        from appcase.persistence import governance_queries

        return governance_queries.revoke_grant(self.conn, grant_id, by, at)

    def use_grant(self, grant_id: str, by: str, at: datetime, position: int) -> bool:
        """Mark a grant used; ``False`` if unknown, revoked or already used."""
        from appcase.persistence import governance_queries

        return governance_queries.use_grant(self.conn, grant_id, by, at, position)

    # --- end of governance ------------------------------------------------------------------


_R = TypeVar("_R", InterviewRecord, PledgeRecord)


class SqlStorage:
    """The :class:`~appcase.ports.Storage` on a SQLAlchemy engine: hands out units of work.

    Args:
        engine: an engine from :func:`appcase.persistence.db.create_db_engine`.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._readers = engine.execution_options(**{READ_ONLY: True})

    def close(self) -> None:
        """Close the engine's database connections."""
        self.engine.dispose()

    @contextmanager
    def transaction(
        self, case_id: str | None = None, *, snapshot: bool = False
    ) -> Iterator[Repository]:
        """A unit of work: commit at the end of the block, roll back on any error.

        On PostgreSQL it runs at READ COMMITTED; case rows are locked by the commands that
        write them (``SELECT ... FOR UPDATE``) and every case update is version-checked. On
        SQLite it begins with ``BEGIN IMMEDIATE``, so writers queue (up to
        :data:`~appcase.persistence.db.SQLITE_BUSY_TIMEOUT_MS`) instead of failing.

        Args:
            case_id: the case being written, named in a :class:`ConcurrentModification`
                (the block may set ``repo.case_id`` later instead).
            snapshot: read one consistent snapshot throughout (REPEATABLE READ on
                PostgreSQL; SQLite transactions always do).

        Yields:
            The transaction's :class:`Repository`.

        Raises:
            ConcurrentModification: a version check or a unique key lost a race against
                another transaction on a case, or (PostgreSQL) the case stayed locked by
                another command beyond the lock timeout; nothing was written, retrying is
                safe.
            DatabaseNotReady: the schema is missing.
            PersistenceError: any other database error, including a SQLite file that stayed
                locked longer than the busy timeout.
        """
        repo: Repository | None = None
        try:
            with _connect(self.engine, snapshot) as conn, conn.begin():
                repo = Repository(conn, case_id)
                yield repo
        except AppcaseError:
            raise
        except SQLAlchemyError as exc:
            raise _translate(exc, repo.case_id if repo is not None else case_id) from None
        for callback in repo.committed:
            callback()

    @contextmanager
    def reading(self, *, snapshot: bool = False) -> Iterator[Repository]:
        """A unit of work that only reads; it is rolled back at the end.

        On SQLite it begins deferred: it reads a consistent snapshot and never waits for a
        writer (nor holds one up). On PostgreSQL it is an ordinary READ COMMITTED
        transaction (REPEATABLE READ with ``snapshot``).

        Raises:
            DatabaseNotReady: the schema is missing.
            PersistenceError: a database error.
        """
        try:
            with _connect(self._readers, snapshot) as conn, conn.begin():
                yield Repository(conn)
        except AppcaseError:
            raise
        except SQLAlchemyError as exc:
            raise _translate(exc, None) from None


class ConnectionStorage:
    """The :class:`~appcase.ports.Storage` on a connection the caller holds: appcase's
    commands run inside the caller's own transaction and commit or roll back with it.

    Each unit of work is a savepoint in the caller's transaction (begun if none is): a
    command that fails -- refused by a guard, vetoed by a listener, beaten by a concurrent
    writer -- rolls back its savepoint alone, leaves the caller's transaction usable and
    writes nothing of its own. Nothing here commits: the caller does. After-commit
    listeners run when the caller's transaction commits, never if it rolls back.

    Args:
        source: the caller's SQLAlchemy ``Connection``, or its ORM ``Session`` (whose
            connection is used at each unit of work).
        schema: the schema (PostgreSQL) or attached database (SQLite) that holds appcase's
            tables, if not the connection's default; applied to appcase's statements alone.
    """

    def __init__(self, source: CallerConnection, *, schema: str | None = None) -> None:
        self._source = source
        self._options: dict[str, Any] = {}
        if schema is not None:
            self._options["schema_translate_map"] = {None: schema}
        self._pending: list[Callable[[], object]] = []
        self._heard: list[Connection] = []

    @property
    def conn(self) -> Connection:
        """The caller's connection now (a session's, resolved at each use: a session may
        change connections between transactions)."""
        source = self._source
        conn = source.connection() if isinstance(source, Session) else source
        if not any(c is conn for c in self._heard):
            event.listen(conn, "commit", self._committed)
            event.listen(conn, "rollback", self._rolled_back)
            self._heard.append(conn)
        return conn

    def _committed(self, _conn: Connection) -> None:
        pending, self._pending = self._pending, []
        for callback in pending:
            callback()

    def _rolled_back(self, _conn: Connection) -> None:
        self._pending = []

    def close(self) -> None:
        """Stop hearing the caller's commits (the caller owns and closes the connection)."""
        for conn in self._heard:
            event.remove(conn, "commit", self._committed)
            event.remove(conn, "rollback", self._rolled_back)
        self._heard = []

    def _scoped(self, conn: Connection) -> Connection:
        if self._options:
            return cast(Connection, _Scoped(conn, self._options))
        return conn

    @contextmanager
    def transaction(
        self, case_id: str | None = None, *, snapshot: bool = False
    ) -> Iterator[Repository]:
        """A unit of work in a savepoint of the caller's transaction (``snapshot`` is the
        caller's isolation: appcase cannot change it mid-transaction).

        Raises:
            ConcurrentModification / PersistenceError / DatabaseNotReady: as
                :meth:`SqlStorage.transaction`; the savepoint was rolled back and the
                caller's transaction is usable.
        """
        conn = self.conn
        repo = Repository(self._scoped(conn), case_id)
        try:
            _begun(conn)
            with conn.begin_nested():
                yield repo
        except AppcaseError:
            raise
        except SQLAlchemyError as exc:
            raise _translate(exc, repo.case_id) from None
        self._pending.extend(repo.committed)

    @contextmanager
    def reading(self, *, snapshot: bool = False) -> Iterator[Repository]:
        """Reads on the caller's connection, in its transaction (they see its writes)."""
        try:
            yield Repository(self._scoped(self.conn))
        except AppcaseError:
            raise
        except SQLAlchemyError as exc:
            raise _translate(exc, None) from None


def _begun(conn: Connection) -> None:
    """Make sure the caller's transaction has begun in the database, not only in
    SQLAlchemy: pysqlite (unless set up as appcase's own engines are) begins a transaction
    only before a data change, and a SAVEPOINT outside one would commit on release."""
    if not conn.in_transaction():
        conn.begin()
    if conn.dialect.name == "sqlite":
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not getattr(dbapi, "in_transaction", True):
            conn.exec_driver_sql("BEGIN")


class _Scoped:
    """A connection whose statements carry execution options (a schema map) that the
    caller's own statements on the same connection do not."""

    def __init__(self, conn: Connection, options: dict[str, Any]) -> None:
        self._conn = conn
        self._options = options
        self.dialect = conn.dialect

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self._conn.execute(statement, parameters, execution_options=self._options)

    def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return self._conn.scalar(statement, parameters, execution_options=self._options)

    def scalars(self, statement: Any, parameters: Any = None) -> Any:
        return self._conn.scalars(statement, parameters, execution_options=self._options)

    def begin_nested(self) -> Any:
        return self._conn.begin_nested()

    @property
    def options(self) -> dict[str, Any]:
        """The execution options of appcase's statements (the schema map)."""
        return self._options

    def exec_driver_sql(self, statement: str, parameters: Any = None) -> Any:
        return self._conn.exec_driver_sql(statement, parameters)
