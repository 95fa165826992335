"""Shared fixtures: real SQLite files, a real PostgreSQL schema per test, a fixed clock.

PostgreSQL tests read the server from ``APPCASE_TEST_DATABASE_URL`` (e.g.
``postgresql://postgres@127.0.0.1:5432/test``). Each test gets its own schema in that
database, dropped afterwards. Without the variable or a server answering, PostgreSQL tests
skip with the reason -- unless ``APPCASE_REQUIRE_POSTGRES=1``, which makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import make_url

from appcase.bootstrap import init_database, open_engine
from appcase.clock import FixedClock
from appcase.workflow.engine import CaseEngine
from tests.builders import SHANGHAI, checkpoint, register_actors

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("APPCASE_HYPOTHESIS_PROFILE", "ci"))

PG_ENV = "APPCASE_TEST_DATABASE_URL"
REQUIRE_ENV = "APPCASE_REQUIRE_POSTGRES"


def _postgres_unavailable() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        return f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)"
    try:
        import psycopg
    except ImportError:
        return "PostgreSQL tests need psycopg: pip install -e '.[test]'"
    try:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:  # any connection failure means: no server here
        return f"no PostgreSQL server answers at {url}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    """The PostgreSQL server's URL, or a skip (a failure with APPCASE_REQUIRE_POSTGRES=1)."""
    reason = _postgres_unavailable()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    return os.environ[PG_ENV]


@pytest.fixture
def postgres_url(postgres_base_url: str) -> Iterator[str]:
    """A fresh, empty schema on the PostgreSQL server; dropped after the test."""
    with postgres_schema(postgres_base_url) as url:
        yield url


@contextmanager
def postgres_schema(postgres_base_url: str) -> Iterator[str]:
    """The URL of a fresh, empty schema on the PostgreSQL server, dropped at the end."""
    import psycopg

    schema = f"appcase_test_{uuid.uuid4().hex[:12]}"
    base = make_url(postgres_base_url)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = base.set(
        drivername="postgresql+psycopg", query={**base.query, "options": f"-csearch_path={schema}"}
    ).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'cases.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on each engine: the contract tests run on both."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> FixedClock:
    """A clock at 2018-04-30 12:00 Asia/Shanghai: after the campaign, so that acts dated
    inside it are in the past (move it to test "now")."""
    return FixedClock(datetime(2018, 4, 30, 12, 0, tzinfo=SHANGHAI))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file made once per session as ``make_engine`` makes a database (migrated,
    Hunan 2018 loaded, the standard actors registered), its log moved into the file: copied
    for each test instead of migrating a new file each time."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    engine = init_database(f"sqlite:///{path}", "hunan-2018", None)
    register_actors(engine)
    engine.close()
    checkpoint(path)
    return path


@pytest.fixture
def make_engine(clock: FixedClock, sqlite_template: Path) -> Iterator[Callable[[str], CaseEngine]]:
    """Initialise a database at a URL with Hunan 2018 and the standard test actors; every
    engine made is closed after the test. A new SQLite file is a copy of
    :func:`sqlite_template` (the same migrations, campaign and actors), opened with the
    test's clock."""
    made: list[CaseEngine] = []

    def make(url: str) -> CaseEngine:
        parsed = make_url(url)
        target = Path(parsed.database or "") if parsed.get_backend_name() == "sqlite" else None
        if target is not None and parsed.database and not target.exists():
            shutil.copyfile(sqlite_template, target)
            engine = open_engine(url, "hunan-2018", clock)
        else:
            engine = init_database(url, "hunan-2018", clock)
            register_actors(engine)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


@pytest.fixture
def engine(make_engine: Callable[[str], CaseEngine], db_url: str) -> CaseEngine:
    """An initialised engine, on SQLite and on PostgreSQL."""
    return make_engine(db_url)


@pytest.fixture
def sqlite_engine(make_engine: Callable[[str], CaseEngine], sqlite_url: str) -> CaseEngine:
    """An initialised engine on a SQLite file only."""
    return make_engine(sqlite_url)
