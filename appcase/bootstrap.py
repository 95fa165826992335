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
from appcase.persistence.repository import SqlStorage
from appcase.policies.campaign import BUILTIN_CAMPAIGNS, Campaign, load_campaign, parse_campaign
from appcase.ports import StoredCampaign
from appcase.workflow.engine import CaseEngine

__all__ = [
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
) -> CaseEngine:
    """Migrate a database to the newest schema and load a campaign into it.

    Idempotent: running it again on a current database with the same campaign changes
    nothing.

    Args:
        url: database URL (default: the embedded SQLite file).
        campaign: a :class:`Campaign`, a built-in id or a campaign file path.
        clock: the clock for the returned engine.

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
        engine = create_db_engine(url)
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
) -> CaseEngine:
    """Open an engine on an initialised database.

    Args:
        url: database URL, e.g. ``sqlite:///cases.sqlite`` or
            ``postgresql://user@host/db`` (default: the embedded SQLite file).
        campaign: the campaign id stored in the database (or a :class:`Campaign`, which
            must equal the stored one); default: the only campaign stored.
        clock: where "now" comes from (default: the system clock, UTC).

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
    engine = create_db_engine(url)
    try:
        stored = _stored_campaign(engine, campaign)
    except BaseException:
        engine.dispose()
        raise
    return CaseEngine(SqlStorage(engine), stored, clock or SystemClock())


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


def _stored_campaign(engine: DbEngine, campaign: Campaign | str | None) -> Campaign:
    ensure_current(engine)
    with SqlStorage(engine).reading() as repo:
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
        stored = parse_campaign(json.loads(row.definition), f"database:{row.id}")
    if isinstance(campaign, Campaign) and campaign.digest() != stored.digest():
        raise InvalidInput(f"campaign {campaign.id!r} differs from the one stored in the database")
    return stored
