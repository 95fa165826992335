"""Unit tests touch no database: creating a SQLAlchemy engine or opening a SQLite or
PostgreSQL connection inside one fails the test. Tests that need a database belong in
``tests/integration``."""

from __future__ import annotations

import sqlite3
from typing import Any, NoReturn

import pytest
import sqlalchemy

NO_DATABASE = (
    "unit tests touch no database ({what}); "
    "move this test to tests/integration, or test the logic without storage"
)


def _refuse(what: str) -> Any:
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        pytest.fail(NO_DATABASE.format(what=what), pytrace=False)

    return refuse


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every way to a database fail: engines (however ``create_engine`` was imported)
    and direct DBAPI connections."""
    monkeypatch.setattr(sqlalchemy.Engine, "__init__", _refuse("a SQLAlchemy engine was created"))
    monkeypatch.setattr(sqlite3, "connect", _refuse("sqlite3.connect was called"))
    try:
        import psycopg
    except ImportError:  # the postgres extra is optional
        return
    monkeypatch.setattr(psycopg, "connect", _refuse("psycopg.connect was called"))
