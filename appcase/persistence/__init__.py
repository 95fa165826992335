"""Persistence: SQLAlchemy models, the unit of work, migrations and the audit chain.

SQLite (a file; the embedded default) and PostgreSQL (through psycopg 3) are chosen by URL.
SQLAlchemy's own errors never leave this package: they become
:class:`~appcase.errors.PersistenceError` subclasses.
"""
