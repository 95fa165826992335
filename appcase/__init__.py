"""appcase: a workflow engine for regulators' campaigns against harmful mobile apps.

The public API is what ``__all__`` lists; everything else may change. Importing appcase
does nothing: no engine is built, no environment is read, no logging is configured.

Example::

    from datetime import datetime
    from zoneinfo import ZoneInfo
    import appcase

    engine = appcase.init_database("sqlite:///cases.sqlite")  # Hunan 2018 by default
    engine.add_actor("cs-cac", role="cac_prefecture", jurisdiction="430100")
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appcase.bootstrap import init_database, open_engine
    from appcase.clock import Clock, FixedClock, SystemClock
    from appcase.errors import (
        AppcaseError,
        AuditFailure,
        BatchRejected,
        CampaignFileError,
        CaseNotFound,
        ConcurrentModification,
        DatabaseNotReady,
        GuardRejected,
        InvalidInput,
        LibraryError,
        NaiveDatetimeError,
        PersistenceError,
        Rejection,
        TransitionTableError,
        UnknownActor,
    )
    from appcase.policies.campaign import Campaign, builtin_campaign, load_campaign
    from appcase.states import Disposition, EscalationGround, Event, JudicialState, Severity, State
    from appcase.workflow.asof import CaseAsOf, get_as_of, list_as_of
    from appcase.workflow.commands import (
        AppIdentity,
        CommitmentCheck,
        Evidence,
        Finding,
        Override,
    )
    from appcase.workflow.engine import CaseEngine
    from appcase.workflow.sweep import sweep
    from appcase.workflow.verify import verify
    from appcase.workflow.views import CaseView, EventView, SweepOutcome, VerifyReport

_EXPORTS: dict[str, str] = {
    "AppIdentity": "appcase.workflow.commands",
    "AppcaseError": "appcase.errors",
    "AuditFailure": "appcase.errors",
    "BatchRejected": "appcase.errors",
    "Campaign": "appcase.policies.campaign",
    "CampaignFileError": "appcase.errors",
    "CaseAsOf": "appcase.workflow.asof",
    "CaseEngine": "appcase.workflow.engine",
    "CaseNotFound": "appcase.errors",
    "CaseView": "appcase.workflow.views",
    "Clock": "appcase.clock",
    "CommitmentCheck": "appcase.workflow.commands",
    "ConcurrentModification": "appcase.errors",
    "DatabaseNotReady": "appcase.errors",
    "Disposition": "appcase.states",
    "EscalationGround": "appcase.states",
    "Event": "appcase.states",
    "EventView": "appcase.workflow.views",
    "Evidence": "appcase.workflow.commands",
    "Finding": "appcase.workflow.commands",
    "FixedClock": "appcase.clock",
    "GuardRejected": "appcase.errors",
    "InvalidInput": "appcase.errors",
    "LibraryError": "appcase.errors",
    "JudicialState": "appcase.states",
    "NaiveDatetimeError": "appcase.errors",
    "Override": "appcase.workflow.commands",
    "PersistenceError": "appcase.errors",
    "Rejection": "appcase.errors",
    "Severity": "appcase.states",
    "State": "appcase.states",
    "SweepOutcome": "appcase.workflow.views",
    "SystemClock": "appcase.clock",
    "TransitionTableError": "appcase.errors",
    "UnknownActor": "appcase.errors",
    "VerifyReport": "appcase.workflow.views",
    "builtin_campaign": "appcase.policies.campaign",
    "get_as_of": "appcase.workflow.asof",
    "init_database": "appcase.bootstrap",
    "list_as_of": "appcase.workflow.asof",
    "load_campaign": "appcase.policies.campaign",
    "open_engine": "appcase.bootstrap",
    "sweep": "appcase.workflow.sweep",
    "verify": "appcase.workflow.verify",
}
"""Public name → the module that defines it; imported on first use (PEP 562), so that
``import appcase`` -- and ``appcase --help`` -- loads nothing it does not need."""


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'appcase' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "AppIdentity",
    "AppcaseError",
    "AuditFailure",
    "BatchRejected",
    "Campaign",
    "CampaignFileError",
    "CaseAsOf",
    "CaseEngine",
    "CaseNotFound",
    "CaseView",
    "Clock",
    "CommitmentCheck",
    "ConcurrentModification",
    "DatabaseNotReady",
    "Disposition",
    "EscalationGround",
    "Event",
    "EventView",
    "Evidence",
    "Finding",
    "FixedClock",
    "GuardRejected",
    "InvalidInput",
    "JudicialState",
    "LibraryError",
    "NaiveDatetimeError",
    "Override",
    "PersistenceError",
    "Rejection",
    "Severity",
    "State",
    "SweepOutcome",
    "SystemClock",
    "TransitionTableError",
    "UnknownActor",
    "VerifyReport",
    "builtin_campaign",
    "get_as_of",
    "init_database",
    "list_as_of",
    "load_campaign",
    "open_engine",
    "sweep",
    "verify",
]
__version__ = "0.1.0"
