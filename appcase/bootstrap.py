"""The wiring: build a :class:`~appcase.workflow.engine.CaseEngine` from a database URL, a
campaign and a clock -- the one place that knows both the workflow and the persistence that
implements its ports (:mod:`appcase.ports`)."""

from __future__ import annotations

import json
import os

from appcase.clock import Clock, SystemClock
from appcase.errors import DatabaseNotReady, InvalidInput
from appcase.persistence.db import (
    DbEngine,
    check_revision,
    check_schema,
    check_sqlite_file,
    create_db_engine,
    current_revision,
    default_database_url,
    ensure_current,
    head_revision,
    normalise_url,
    remove_created,
    sqlite_file,
    upgrade,
)
from appcase.persistence.repository import (
    CallerConnection,
    ConnectionStorage,
    SqlStorage,
    is_connection,
)
from appcase.policies.campaign import BUILTIN_CAMPAIGNS, Campaign, load_campaign, parse_campaign
from appcase.ports import StoredCampaign
from appcase.workflow.engine import CaseEngine

__all__ = [
    "attach",
    "database_url",
    "init_database",
    "open_engine",
    "schema_revision",
    "upgrade_database",
]


def _resolve(campaign: Campaign | str) -> Campaign:
    return campaign if isinstance(campaign, Campaign) else load_campaign(campaign)


def init_database(
    url: str | None = None,
    campaign: Campaign | str = "hunan-2018",
    clock: Clock | None = None,
    *,
    schema: str | None = None,
) -> CaseEngine:
    """Migrate a database to the newest schema and load a campaign into it.

    Idempotent: running it again on a current database with the same campaign changes
    nothing.

    Args:
        url: database URL (default: the embedded SQLite file).
        campaign: a :class:`Campaign`, a built-in id or a campaign file path.
        clock: the clock for the returned engine.
        schema: PostgreSQL only: keep appcase's tables and its version table in this
            schema (created if missing), beside other applications' tables.

    Returns:
        An engine on that database and campaign.

    Raises:
        CampaignFileError: the campaign file is invalid.
        InvalidInput: a different campaign with the same id is already stored.
        PersistenceError: the database cannot be reached or migrated.
    """
    camp = _resolve(campaign)
    url = normalise_url(url or default_database_url())
    path = sqlite_file(url)
    existed = path is None or os.path.lexists(path)
    created = check_sqlite_file(path, create=True) if path is not None else []
    engine: DbEngine | None = None
    try:
        engine = create_db_engine(url, schema=schema)
        upgrade(engine)
        storage = SqlStorage(engine)
        clock = clock or SystemClock()
        _store_campaign(storage, camp, clock)
    except BaseException:
        if engine is not None:
            engine.dispose()
        if not existed:  # a failed init leaves no file behind
            remove_created(created, path)
        raise
    return CaseEngine(storage, camp, clock)


def _store_campaign(storage: SqlStorage, camp: Campaign, clock: Clock) -> None:
    with storage.transaction() as repo:
        row = repo.campaign(camp.id)
        if row is None:
            repo.add_campaign(
                StoredCampaign(
                    id=camp.id,
                    title=camp.title_zh,
                    document_number=camp.document_number,
                    timezone=camp.timezone,
                    digest=camp.digest(),
                    definition=camp.canonical_json(),
                    loaded_at=clock.now(),
                )
            )
        elif row.digest != camp.digest():
            raise InvalidInput(
                f"the database already holds a different campaign {camp.id!r}; "
                "give the new campaign another id"
            )


def open_engine(
    url: str | None = None,
    campaign: Campaign | str | None = None,
    clock: Clock | None = None,
    *,
    schema: str | None = None,
) -> CaseEngine:
    """Open an engine on an initialised database.

    Args:
        url: database URL, e.g. ``sqlite:///cases.sqlite`` or
            ``postgresql://user@host/db`` (default: the embedded SQLite file).
        campaign: the campaign id stored in the database (or a :class:`Campaign`, which
            must equal the stored one); default: the only campaign stored.
        clock: where "now" comes from (default: the system clock, UTC).
        schema: PostgreSQL only: the schema that holds appcase's tables (as given to
            :func:`init_database`).

    Returns:
        The engine.

    Raises:
        DatabaseNotReady: no SQLite file at the path, no schema, an old schema, or no such
            campaign (its ``remedy`` says what would make it ready).
        InvalidInput: several campaigns are stored and none was named, or the given
            campaign differs from the stored one.
    """
    url = normalise_url(url or default_database_url())
    path = sqlite_file(url)
    if path is not None:
        # refuse before connecting: SQLite would leave an empty file behind a mistyped path
        check_sqlite_file(path, create=False)
    engine = create_db_engine(url, schema=schema)
    try:
        ensure_current(engine)
        storage = SqlStorage(engine)
        stored = _stored_campaign(storage, campaign)
    except BaseException:
        engine.dispose()
        raise
    return CaseEngine(storage, stored, clock or SystemClock())


def attach(
    connection: CallerConnection,
    campaign: Campaign | str | None = None,
    clock: Clock | None = None,
    *,
    schema: str | None = None,
) -> CaseEngine:
    """An engine that works inside a transaction the caller holds.

    The caller's own writes and appcase's commands then commit or roll back together: each
    appcase command runs in a savepoint of the caller's transaction, so a refused command
    leaves that transaction usable and writes nothing of its own; appcase never commits.
    After-commit listeners run when the caller commits. See docs/embedding.md for what a
    caller must not do (commit or roll back inside a listener, share the connection
    between threads, change the isolation level mid-transaction, ...).

    Args:
        connection: the caller's SQLAlchemy ``Connection`` or ORM ``Session``, on a
            database that holds appcase's schema (:func:`init_database` made it).
        campaign: as for :func:`open_engine`.
        clock: as for :func:`open_engine`.
        schema: the schema (PostgreSQL) or attached database (SQLite) that holds appcase's
            tables, if not the connection's default; applied to appcase's statements only.

    Returns:
        The engine; ``close()`` only stops it hearing the caller's commits.

    Raises:
        DatabaseNotReady: no appcase schema there, an older one, or no such campaign.
        InvalidInput: a malformed schema name, or a campaign as for :func:`open_engine`.
    """
    if not is_connection(connection):
        raise InvalidInput(
            "attach takes the SQLAlchemy Connection or ORM Session of your transaction, not "
            f"a {type(connection).__name__}; for a URL, use open_engine"
        )
    if schema is not None:
        check_schema(schema)
    storage = ConnectionStorage(connection, schema=schema)
    check_revision(storage.conn, schema)
    stored = _stored_campaign(storage, campaign)
    return CaseEngine(storage, stored, clock or SystemClock())


def database_url(url: str | None = None) -> str:
    """The database URL in force: ``url`` checked (a bare path is a SQLite file), or the
    embedded default (a SQLite file in the user data directory).

    Raises:
        InvalidInput: the URL cannot be parsed or names an unsupported database.
    """
    return normalise_url(url or default_database_url())


def upgrade_database(url: str | None = None) -> str:
    """Migrate a database to the newest schema (creating it if empty); load no campaign.

    Returns:
        The schema revision reached.

    Raises:
        InvalidInput: a malformed URL.
        PersistenceError: the database cannot be reached or migrated.
    """
    engine = create_db_engine(database_url(url))
    try:
        upgrade(engine)
        return current_revision(engine) or ""
    finally:
        engine.dispose()


def schema_revision(url: str | None = None) -> tuple[str | None, str]:
    """The database's schema revision (``None`` for an empty database) and the newest one.

    Raises:
        InvalidInput: a malformed URL.
        PersistenceError: the database cannot be reached.
    """
    engine = create_db_engine(database_url(url))
    try:
        return current_revision(engine), head_revision()
    finally:
        engine.dispose()


def _stored_campaign(
    storage: SqlStorage | ConnectionStorage, campaign: Campaign | str | None
) -> Campaign:
    with storage.reading() as repo:
        rows = repo.campaigns()
        if campaign is None:
            if not rows:
                raise DatabaseNotReady("the database holds no campaign", "load_campaign")
            if len(rows) > 1:
                ids = ", ".join(r.id for r in rows)
                raise InvalidInput(f"the database holds several campaigns ({ids}); name one")
            row = rows[0]
        else:
            wanted = campaign.id if isinstance(campaign, Campaign) else campaign
            if (
                wanted not in {r.id for r in rows}
                and isinstance(campaign, str)
                and (campaign in BUILTIN_CAMPAIGNS or os.path.isfile(campaign))
            ):
                wanted = _resolve(campaign).id  # a campaign file: use its id
            found = next((r for r in rows if r.id == wanted), None)
            if found is None:
                held = ", ".join(r.id for r in rows) or "none"
                raise DatabaseNotReady(
                    f"campaign {wanted!r} is not in the database (it holds: {held})",
                    "load_campaign",
                )
            row = found
        try:
            definition = json.loads(row.definition)
        except (ValueError, RecursionError):
            raise DatabaseNotReady(
                f"the campaign {row.id!r} stored in the database is damaged (its definition "
                "is not JSON)",
                "restore",
            ) from None
        stored = parse_campaign(definition, f"database:{row.id}")
    if isinstance(campaign, Campaign) and campaign.digest() != stored.digest():
        raise InvalidInput(f"campaign {campaign.id!r} differs from the one stored in the database")
    return stored
