"""The unit tier's guard: every way to a database fails with a message that says where the
test belongs."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy
from sqlalchemy import create_engine as bound_at_import  # as application modules import it


def test_creating_an_engine_fails_the_test() -> None:
    with pytest.raises(pytest.fail.Exception, match="move this test to tests/integration"):
        sqlalchemy.create_engine("sqlite://")


def test_an_engine_made_through_a_name_bound_at_import_fails_the_test() -> None:
    with pytest.raises(pytest.fail.Exception, match="a SQLAlchemy engine was created"):
        bound_at_import("sqlite://")


def test_a_sqlite3_connection_fails_the_test() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"sqlite3\.connect was called"):
        sqlite3.connect(":memory:")
