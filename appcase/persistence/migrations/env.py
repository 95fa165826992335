"""Alembic environment: runs migrations on the engine appcase passes in."""

from __future__ import annotations

from alembic import context

from appcase.persistence.db import VERSION_TABLE
from appcase.persistence.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # pragma: no cover - appcase always passes its engine
    from appcase.persistence.db import create_db_engine

    engine = create_db_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
