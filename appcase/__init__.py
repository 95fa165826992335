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

from appcase.campaign import Campaign, builtin_campaign, load_campaign
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
    NaiveDatetimeError,
    PersistenceError,
    Rejection,
    TransitionTableError,
    UnknownActor,
)
from appcase.states import Disposition, EscalationGround, Event, JudicialState, Severity, State
from appcase.workflow.audit import verify
from appcase.workflow.bootstrap import init_database, open_engine
from appcase.workflow.commands import (
    AppIdentity,
    CommitmentCheck,
    Evidence,
    Finding,
    Override,
)
from appcase.workflow.engine import CaseEngine
from appcase.workflow.sweep import sweep
from appcase.workflow.views import CaseView, EventView, SweepOutcome, VerifyReport

__all__ = [
    "AppIdentity",
    "AppcaseError",
    "AuditFailure",
    "BatchRejected",
    "Campaign",
    "CampaignFileError",
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
    "init_database",
    "load_campaign",
    "open_engine",
    "sweep",
    "verify",
]
__version__ = "0.1.0"
