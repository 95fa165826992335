"""Imported by the forkserver before it forks any worker: does the one-time work of a fresh
process (the workers' modules, SQLAlchemy mapper configuration, Alembic's script directory,
the campaign model, the PostgreSQL driver) and then freezes the garbage collector's view of
it all, so that a forked worker neither redoes that work nor copies the whole inherited heap
on its first collection; each worker is then ready in tens of milliseconds."""

from __future__ import annotations

import contextlib
import gc

from sqlalchemy.orm import Session, configure_mappers

import appcase.persistence.models  # noqa: F401 - the mappers to configure
from appcase.persistence.db import head_revision
from appcase.policies.campaign import builtin_campaign
from tests.integration.workers import killable, race, steps  # noqa: F401 - preloaded

configure_mappers()
Session().close()
head_revision()
builtin_campaign("hunan-2018")
with contextlib.suppress(ImportError):
    import psycopg  # noqa: F401

gc.freeze()
