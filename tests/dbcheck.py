"""Looking into an engine's database from a test, below the engine: an ORM session on the
engine's own SQLAlchemy engine, in one transaction (committed at the end of the block)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from appcase.workflow.engine import CaseEngine


def db(engine: CaseEngine) -> Engine:
    """The SQLAlchemy engine behind an appcase engine (built by :mod:`appcase.bootstrap`)."""
    bind: Any = getattr(engine.storage, "engine", None)
    assert isinstance(bind, Engine), "the engine's storage is not on SQLAlchemy"
    return bind


@contextmanager
def orm(engine: CaseEngine) -> Iterator[Session]:
    """An ORM session on the engine's database, in a transaction committed at the end."""
    with Session(db(engine), expire_on_commit=False) as session, session.begin():
        yield session
