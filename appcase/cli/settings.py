"""Settings, layered: defaults, then ``APPCASE_*`` environment variables, then flags.

Read only when asked (:meth:`Settings.load`); importing appcase reads nothing.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """appcase settings.

    Attributes:
        database_url: ``APPCASE_DATABASE_URL``; default: a SQLite file in the user data
            directory (:func:`appcase.persistence.db.default_database_url`).
        actor: ``APPCASE_ACTOR``: the acting officer's id for CLI commands.
        campaign: ``APPCASE_CAMPAIGN``: campaign id when a database holds several.
        log_level: ``APPCASE_LOG_LEVEL``: ``debug``, ``info``, ``warning`` (default) or ``error``.
    """

    model_config = SettingsConfigDict(env_prefix="APPCASE_", extra="ignore")

    database_url: str | None = None
    actor: str | None = None
    campaign: str | None = None
    log_level: str = Field(default="warning", pattern="^(debug|info|warning|error)$")
