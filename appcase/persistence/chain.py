"""Moved to :mod:`appcase.audit`: what is left here re-exports the names the engine still
imports from this module, until it imports them from :mod:`appcase.audit.records`."""

from appcase.audit.records import GENESIS, event_hash, format_instant

__all__ = ["GENESIS", "event_hash", "format_instant"]
