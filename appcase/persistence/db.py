"""Database URLs, engines and migrations.

* :func:`default_database_url` -- the embedded default: a SQLite file in the platform's
  user data directory (e.g. ``~/.local/share/appcase/appcase.sqlite`` on Linux).
* :func:`create_db_engine` -- an engine with appcase's connection settings (SQLite: WAL,
  a busy timeout, foreign keys on; PostgreSQL: psycopg 3, a lock timeout).
* :func:`upgrade` / :func:`downgrade` / :func:`ensure_current` -- Alembic migrations, the
  only way the schema is created or changed.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import NullPool, QueuePool

from appcase.errors import DatabaseNotReady, InvalidInput, PersistenceError
from appcase.limits import check_path, shown_text
from appcase.persistence.transient import unavailable

__all__ = [
    "POSTGRES_LOCK_TIMEOUT_MS",
    "READ_ONLY",
    "SQLITE_BUSY_TIMEOUT_MS",
    "SQLITE_HEADER",
    "SQLITE_POOL_SIZE",
    "VERSION_TABLE",
    "DbEngine",
    "check_revision",
    "check_schema",
    "check_sqlite_file",
    "create_db_engine",
    "current_revision",
    "default_database_url",
    "downgrade",
    "ensure_current",
    "head_revision",
    "normalise_url",
    "remove_created",
    "revision_on",
    "sqlite_file",
    "upgrade",
]

DbEngine = Engine
"""The SQLAlchemy engine type, named for the wiring's annotations (it imports no SQLAlchemy)."""

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite connection waits for a lock before failing (milliseconds;
configurable default)."""

READ_ONLY = "appcase_read_only"
"""Execution option marking a connection whose transactions only read: on SQLite they begin
``DEFERRED`` and read a snapshot without waiting for writers (WAL); writers begin
``IMMEDIATE`` and queue for the one write lock."""

SQLITE_POOL_SIZE = 5
"""How many connections a SQLite file engine keeps open between transactions
(configurable default; pass ``pool_size`` to :func:`create_db_engine` to change it)."""

POSTGRES_LOCK_TIMEOUT_MS = 10_000
"""How long a PostgreSQL command waits for a case another command holds before giving up
with :class:`~appcase.errors.ConcurrentModification` (milliseconds; configurable default).
Without it, a client that hangs inside a transaction would stall every command on its cases."""


def default_database_url() -> str:
    """The embedded default database: ``sqlite:///<user data dir>/appcase.sqlite``."""
    from platformdirs import user_data_path

    return f"sqlite:///{user_data_path('appcase', appauthor=False) / 'appcase.sqlite'}"


def normalise_url(url: str) -> str:
    """Check a database URL and pick psycopg 3 for PostgreSQL.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``; a bare file path
    becomes a SQLite URL.

    Raises:
        InvalidInput: if the URL cannot be parsed or names an unsupported database.
    """
    check_path(url, "database")
    shown = shown_text(re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url))
    text = url.strip()
    if not text:
        raise InvalidInput("the database URL is empty; give a SQLite file path or a URL")
    if "://" not in text:
        try:
            text = f"sqlite:///{Path(text).expanduser()}"
        except RuntimeError:  # ~user of a user that does not exist
            raise InvalidInput(f"database path '{shown}': no such user's home") from None
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    try:
        parsed = make_url(text)
        port = parsed.port
    except (ArgumentError, ValueError):
        raise InvalidInput(
            f"database URL '{shown}' cannot be parsed; write sqlite:///FILE or "
            "postgresql://USER@HOST[:PORT]/DB (an IPv6 host in brackets: [::1])"
        ) from None
    if port is not None and not 0 < port < 65536:
        raise InvalidInput(f"database URL '{shown}': port {port} is not between 1 and 65535")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(
            f"database {parsed.get_backend_name()!r} is not supported; use sqlite:///FILE "
            "or postgresql://USER@HOST/DB"
        )
    return parsed.render_as_string(hide_password=False)


SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""


def _open_here(info: os.stat_result) -> bool:
    """Whether this process already holds the file open (an engine's SQLite connections).

    Its header must then not be read through a descriptor of our own: closing any
    descriptor of a file releases every POSIX lock the process holds on it, SQLite's
    included, and another process would then take the database for unused (delete the
    write-ahead log under our connections, say) -- the corruption SQLite's documentation
    warns of ("How To Corrupt An SQLite Database File", 2.2). Linux lists the process's
    descriptors in /proc/self/fd, macOS and the BSDs in /dev/fd; elsewhere this says no.
    """
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            try:
                other = os.stat(f"{folder}/{name}")
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
                return True
        return False
    return False


def check_sqlite_file(path: str, *, create: bool) -> list[Path]:
    """Check that ``path`` can be a SQLite database before SQLite opens it.

    An existing file must be a regular file starting with :data:`SQLITE_HEADER` (or be
    empty); a missing one is refused unless ``create``, and then its folder must be a
    folder (it is created, with any missing parents, only when ``create``).

    Args:
        path: the file, from :func:`sqlite_file`.
        create: whether a missing file (and its folders) may be created.

    Returns:
        The folders this call created, innermost last (for a caller that fails later to
        remove again).

    Raises:
        DatabaseNotReady: no file at ``path`` and not ``create``.
        InvalidInput: the path is a folder, a device or another special file, is not a
            SQLite database, or its folder cannot be made (the operating system's reason).
    """
    p = check_path(path, "database")
    shown = shown_text(path)
    try:
        info = p.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise InvalidInput(f"cannot use database {shown}: {exc.strerror}") from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise InvalidInput(f"database {shown} is a folder; name a file in it")
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"database {shown} is not a regular file")
        if _open_here(info):
            return []  # SQLite has it open in this process: it is a database
        try:
            with p.open("rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise InvalidInput(f"cannot read database {shown}: {exc.strerror}") from None
        if head and head != SQLITE_HEADER:
            raise InvalidInput(
                f"{shown} is not a SQLite database (its first bytes are not "
                "'SQLite format 3'); name another file"
            )
        return []
    if not create:
        raise DatabaseNotReady(f"there is no database at {shown}")
    missing = [d for d in (p.parent, *p.parent.parents) if not d.exists()]
    try:
        for d in reversed(missing):
            d.mkdir()
    except OSError as exc:
        remove_created(missing)
        raise InvalidInput(f"cannot create database {shown}: {exc.strerror}") from None
    if not p.parent.is_dir():
        raise InvalidInput(f"cannot create database {shown}: its folder is not a folder")
    return list(reversed(missing))


def remove_created(folders: list[Path], file: str | None = None) -> None:
    """Remove a SQLite file with its ``-wal``, ``-shm`` and ``-journal`` files, and then the
    folders created for it (innermost first, each only if empty): undo a failed create."""
    if file is not None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{file}{suffix}").unlink(missing_ok=True)
    for d in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        try:
            d.rmdir()
        except OSError:
            break


def sqlite_file(url: str) -> str | None:
    """The file a normalised SQLite URL names (``None`` for another database or memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def create_db_engine(
    url: str,
    *,
    lock_timeout_ms: int = POSTGRES_LOCK_TIMEOUT_MS,
    schema: str | None = None,
    **kwargs: Any,
) -> Engine:
    """Create an SQLAlchemy engine for ``url`` with appcase's connection settings.

    SQLite: the parent directory is created; the first connection turns on WAL (stored in
    the file); each connection gets a busy timeout of :data:`SQLITE_BUSY_TIMEOUT_MS`,
    ``synchronous=NORMAL`` and foreign keys, and transactions begin with ``BEGIN IMMEDIATE``
    so that writers queue instead of failing -- except on connections marked
    :data:`READ_ONLY`, which begin deferred and never wait. A file database keeps up to
    :data:`SQLITE_POOL_SIZE` connections open between transactions (more are opened, and
    closed after use, when more threads need one at once); an in-memory one is not pooled.

    PostgreSQL (psycopg 3): a connection pool checked before use, transactions at READ
    COMMITTED, and a ``lock_timeout`` on every connection.

    Both: a pooled connection is never used in another process than the one that opened
    it -- after a fork the child opens its own (the parent's stay untouched).

    Args:
        url: a database URL or a SQLite file path (see :func:`normalise_url`).
        lock_timeout_ms: PostgreSQL only: how long a statement waits for a row lock
            (milliseconds; default :data:`POSTGRES_LOCK_TIMEOUT_MS`).
        schema: PostgreSQL only: the schema that holds appcase's tables and its version
            table, beside other applications' (every connection's ``search_path``).
        **kwargs: passed to :func:`sqlalchemy.create_engine` (e.g. ``pool_size``).

    Returns:
        The engine (connections are opened on first use).

    Raises:
        InvalidInput: for a bad URL, or a schema that is not a plain identifier or is
            given for SQLite.
        PersistenceError: if the database cannot be reached.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if schema is not None:
        check_schema(schema)
        if parsed.get_backend_name() == "sqlite":
            raise InvalidInput(
                "a schema needs PostgreSQL; on SQLite give appcase a database file of its own"
            )
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            check_sqlite_file(parsed.database, create=True)
            kwargs.setdefault("poolclass", QueuePool)
            if kwargs["poolclass"] is QueuePool:
                kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
                kwargs.setdefault("max_overflow", -1)
        else:
            kwargs.setdefault("poolclass", NullPool)
        engine = create_engine(url, **kwargs)
        _sqlite_settings(engine)
        _fork_safe(engine)
        return engine
    try:
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
    except (ImportError, SQLAlchemyError) as exc:
        raise PersistenceError(f"cannot use database {parsed!r}: {exc}") from None
    _postgres_settings(engine, lock_timeout_ms, schema)
    _fork_safe(engine)
    return engine


def check_schema(schema: str) -> str:
    """A schema name appcase accepts: a plain identifier (letters, digits, ``_``; at most 63
    characters, not starting with a digit), so that it never needs quoting.

    Raises:
        InvalidInput: anything else.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise InvalidInput(
            f"schema {schema[:80]!r} is not a plain identifier (letters, digits and _, "
            "at most 63, not starting with a digit)"
        )
    return schema


def _fork_safe(engine: Engine) -> None:
    """Never hand a connection opened by another process (before a fork) to this one.

    SQLAlchemy's recipe: the connection is tagged with its process id; a checkout in another
    process drops it without closing it (it still belongs to the parent) and opens a new one.
    """

    @event.listens_for(engine, "connect")
    def _connect(_dbapi_conn: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _checkout(_dbapi_conn: Any, record: Any, proxy: Any) -> None:
        pid = os.getpid()
        if record.info["pid"] != pid:
            record.dbapi_connection = proxy.dbapi_connection = None
            raise DisconnectionError(
                f"connection opened in process {record.info['pid']}, checked out in {pid}"
            )


def _postgres_settings(engine: Engine, lock_timeout_ms: int, schema: str | None) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
            if schema is not None:  # a checked plain identifier
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                cur.execute(f"SET search_path TO {schema}")
        dbapi_conn.commit()


def _sqlite_settings(engine: Engine) -> None:
    wal_set = False  # journal_mode is stored in the file: one connection per engine sets it

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        nonlocal wal_set
        dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if not wal_set:
            cur.execute("PRAGMA journal_mode = WAL")
            wal_set = True
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


VERSION_TABLE = "appcase_alembic_version"
"""appcase's own Alembic version table, so that another application's Alembic history in the
same database (its ``alembic_version``) is never touched."""

LEGACY_VERSION_TABLE = "alembic_version"
"""Where databases made before :data:`VERSION_TABLE` kept appcase's revision."""


def _revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(resources.files("appcase.persistence") / "migrations"))
    return {r.revision for r in script.walk_revisions()}


def _legacy_revision(conn: Connection) -> str | None:
    """appcase's revision in a database made before it kept its own version table."""
    names = inspect(conn).get_table_names()
    if LEGACY_VERSION_TABLE not in names or "events" not in names:
        return None
    rows = conn.exec_driver_sql(f"SELECT version_num FROM {LEGACY_VERSION_TABLE}").all()
    ours = [r[0] for r in rows if r[0] in _revisions()]
    return ours[0] if len(ours) == 1 else None


def _adopt_legacy_version(engine: Engine) -> None:
    """Move appcase's revision from ``alembic_version`` to :data:`VERSION_TABLE` in a
    database made before it kept its own (dropping ``alembic_version`` if nothing else is
    left in it)."""
    with engine.begin() as conn:
        if VERSION_TABLE in inspect(conn).get_table_names():
            return
        rev = _legacy_revision(conn)
        if rev is None:
            return
        conn.exec_driver_sql(
            f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
            f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
        )
        conn.execute(text(f"INSERT INTO {VERSION_TABLE} VALUES (:rev)"), {"rev": rev})
        conn.execute(
            text(f"DELETE FROM {LEGACY_VERSION_TABLE} WHERE version_num = :rev"), {"rev": rev}
        )
        left = conn.exec_driver_sql(f"SELECT count(*) FROM {LEGACY_VERSION_TABLE}").scalar()
        if not left:
            conn.exec_driver_sql(f"DROP TABLE {LEGACY_VERSION_TABLE}")


def revision_on(conn: Connection, schema: str | None = None) -> str | None:
    """The appcase revision of the database behind ``conn`` (``None``: no appcase schema),
    read on that connection, in its transaction.

    Args:
        conn: the connection.
        schema: the schema that holds appcase's version table, if not the default one.

    Raises:
        SQLAlchemyError: the database cannot be read (the caller translates it).
    """
    from alembic.runtime.migration import MigrationContext

    opts = {"version_table": VERSION_TABLE, "version_table_schema": schema}
    context = MigrationContext.configure(conn, opts=opts)
    rev = context.get_current_revision()
    return rev if rev is not None or schema is not None else _legacy_revision(conn)


def check_revision(conn: Connection, schema: str | None = None) -> None:
    """Check, on the caller's connection, that its database holds appcase's newest schema
    (in ``schema``, if given).

    Raises:
        DatabaseNotReady: no appcase schema (remedy ``"create"``) or an older one
            (``"upgrade"``).
        PersistenceError: the database cannot be read.
    """
    try:
        rev = revision_on(conn, schema)
    except SQLAlchemyError as exc:
        raise unavailable(exc, what="reading the schema's revision") or PersistenceError(
            f"cannot read the database: {getattr(exc, 'orig', exc)}"
        ) from None
    if rev is None:
        raise DatabaseNotReady("the database has no appcase schema")
    if rev != head_revision():
        raise DatabaseNotReady(
            f"the database schema is at revision {rev}, not {head_revision()}", "upgrade"
        )


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("appcase.persistence") / "migrations")
    )
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(resources.files("appcase.persistence") / "migrations"))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's migration revision, or ``None`` for an empty database.

    Raises:
        PersistenceError: if the database cannot be reached.
    """
    try:
        with engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            return revision_on(conn)
    except DBAPIError as exc:
        raise unavailable(exc, what="reading the schema's revision") or PersistenceError(
            f"cannot open the database: {exc.orig}"
        ) from None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest), with Alembic.

    Raises:
        DatabaseUnavailable: the connection was lost, or a lock (on the version table, say)
            was not granted within the lock timeout; nothing was changed, retry.
        PersistenceError: if a migration fails (it is rolled back).
    """
    from alembic import command

    try:
        with _migrating(engine):
            _adopt_legacy_version(engine)
            command.upgrade(_alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise unavailable(exc, what="the migration") or PersistenceError(
            f"migration failed: {_reason(exc)}"
        ) from None


MIGRATION_LOCK = 7021235391209629031
"""On PostgreSQL, the session-level advisory lock every migrating process holds, so that
several ``appcase init`` at once migrate one after the other (the next finds the schema
current) instead of colliding on the tables they create."""


@contextlib.contextmanager
def _migrating(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "postgresql":
        yield  # SQLite: the migration's write transaction already excludes the others
        return
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        holder.commit()
        try:
            yield
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            holder.commit()


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database back to ``revision`` (``"base"``: no appcase schema at all).

    Downgrading drops the tables and columns later revisions added, with their data: back
    the database up first (see docs/deployment.md).

    Raises:
        PersistenceError: if a migration fails (it is rolled back).
    """
    from alembic import command

    try:
        _adopt_legacy_version(engine)
        command.downgrade(_alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise unavailable(exc, what="the migration") or PersistenceError(
            f"migration failed: {_reason(exc)}"
        ) from None


def _reason(exc: SQLAlchemyError) -> str:
    """The database's own words for an error, without SQLAlchemy's statement and links."""
    return str(exc.orig) if isinstance(exc, DBAPIError) else str(exc).split("\n", 1)[0]


def ensure_current(engine: Engine) -> None:
    """Check that the database is migrated to the newest revision.

    Raises:
        DatabaseNotReady: if it is empty (remedy ``"create"``) or behind (``"upgrade"``).
    """
    rev = current_revision(engine)
    if rev is None:
        tables = inspect(engine).get_table_names()
        what = "has no appcase schema" if not tables else "was not created by appcase"
        raise DatabaseNotReady(f"the database {what}")
    if rev != head_revision():
        raise DatabaseNotReady(
            f"the database schema is at revision {rev}, not {head_revision()}", "upgrade"
        )
