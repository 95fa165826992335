"""appcase: a workflow engine for regulators' campaigns against harmful mobile apps.

The public API is what ``__all__`` lists; everything else may change. Importing appcase
does nothing: no engine is built, no environment is read, no logging is configured.

Example::

    from datetime import datetime
    from zoneinfo import ZoneInfo
    import appcase

    engine = appcase.init_database("sqlite:///cases.sqlite")  # Hunan 2018 by default
    engine.add_actor("admin", role="administrator")  # the first administrator
    engine.add_actor("cs-cac", role="cac_prefecture", jurisdiction="430100", by="admin")
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appcase.audit.keys import (
        Signer,
        VerifyKey,
    )
    from appcase.bootstrap import (
        attach,
        init_database,
        open_engine,
    )
    from appcase.clock import (
        Clock,
        FixedClock,
        SystemClock,
    )
    from appcase.errors import (
        AppcaseError,
        AuditFailure,
        BatchRejected,
        CampaignFileError,
        CaseNotFound,
        ConcurrentModification,
        DatabaseBusy,
        DatabaseNotReady,
        GuardRejected,
        ImportRejected,
        InvalidInput,
        LedgerHeaderNotFound,
        LibraryError,
        ListenerVetoed,
        NaiveDatetimeError,
        NotAuthorised,
        PersistenceError,
        Rejection,
        TransitionTableError,
        UnknownActor,
    )
    from appcase.policies.campaign import (
        Campaign,
        DeadlineParams,
        DispositionParams,
        HarmCategory,
        InterviewParams,
        Jurisdiction,
        Phase,
        PolicyParams,
        RoleSpec,
        builtin_campaign,
        load_campaign,
    )
    from appcase.policies.disposition import (
        DispositionResult,
        Factors,
        FindingInput,
        RuleFired,
    )
    from appcase.ports import (
        CaseFilter,
        CaseStore,
        EvidenceRecord,
        FindingRecord,
        InterviewRecord,
        PledgeRecord,
        Queries,
        RelayCursor,
        ReporterRecord,
        SealedEvent,
        Storage,
        StoredActor,
        StoredAdminAct,
        StoredApp,
        StoredCampaign,
        StoredCase,
        StoredCheckpoint,
        StoredEvent,
        StoredGrant,
        StoredToken,
        VerificationRecord,
    )
    from appcase.states import (
        Disposition,
        EscalationGround,
        Event,
        JudicialState,
        Severity,
        State,
        Track,
    )
    from appcase.workflow.asof import (
        CaseAsOf,
        get_as_of,
        list_as_of,
    )
    from appcase.workflow.commands import (
        AppIdentity,
        CommitmentCheck,
        Evidence,
        Finding,
        JudgePayload,
        Override,
        Reporter,
    )
    from appcase.workflow.engine import (
        CaseEngine,
    )
    from appcase.workflow.export import (
        ExportResult,
        export_bundle,
    )
    from appcase.workflow.feed import (
        cloudevent,
        feed,
    )
    from appcase.workflow.governance import (
        AdminActView,
        AdminLog,
    )
    from appcase.workflow.grants import (
        GrantView,
        grant_override,
        list_grants,
        revoke_grant,
    )
    from appcase.workflow.hotline import (
        find_case,
        report_hotline,
    )
    from appcase.workflow.ledger import (
        ImportReport,
        LedgerFile,
        LedgerProblem,
        import_ledger,
    )
    from appcase.workflow.listeners import (
        Listeners,
        Transition,
    )
    from appcase.workflow.sweep import (
        summarise,
        sweep,
    )
    from appcase.workflow.verify import (
        AuditReport,
        CheckpointView,
        checkpoint,
        verify,
    )
    from appcase.workflow.views import (
        ActorView,
        CaseView,
        EventView,
        SurveyBatchResult,
        SweepOutcome,
        SweepReport,
        VerifyReport,
    )

_EXPORTS: dict[str, str] = {
    "ActorView": "appcase.workflow.views",
    "AdminActView": "appcase.workflow.governance",
    "AdminLog": "appcase.workflow.governance",
    "AppIdentity": "appcase.workflow.commands",
    "AppcaseError": "appcase.errors",
    "AuditFailure": "appcase.errors",
    "AuditReport": "appcase.workflow.verify",
    "BatchRejected": "appcase.errors",
    "Campaign": "appcase.policies.campaign",
    "CampaignFileError": "appcase.errors",
    "CaseAsOf": "appcase.workflow.asof",
    "CaseEngine": "appcase.workflow.engine",
    "CaseFilter": "appcase.ports",
    "CaseNotFound": "appcase.errors",
    "CaseStore": "appcase.ports",
    "CaseView": "appcase.workflow.views",
    "CheckpointView": "appcase.workflow.verify",
    "Clock": "appcase.clock",
    "CommitmentCheck": "appcase.workflow.commands",
    "ConcurrentModification": "appcase.errors",
    "DatabaseBusy": "appcase.errors",
    "DatabaseNotReady": "appcase.errors",
    "DeadlineParams": "appcase.policies.campaign",
    "Disposition": "appcase.states",
    "DispositionParams": "appcase.policies.campaign",
    "DispositionResult": "appcase.policies.disposition",
    "EscalationGround": "appcase.states",
    "Event": "appcase.states",
    "EventView": "appcase.workflow.views",
    "Evidence": "appcase.workflow.commands",
    "EvidenceRecord": "appcase.ports",
    "ExportResult": "appcase.workflow.export",
    "Factors": "appcase.policies.disposition",
    "Finding": "appcase.workflow.commands",
    "FindingInput": "appcase.policies.disposition",
    "FindingRecord": "appcase.ports",
    "FixedClock": "appcase.clock",
    "GrantView": "appcase.workflow.grants",
    "GuardRejected": "appcase.errors",
    "HarmCategory": "appcase.policies.campaign",
    "ImportRejected": "appcase.errors",
    "ImportReport": "appcase.workflow.ledger",
    "InterviewParams": "appcase.policies.campaign",
    "InterviewRecord": "appcase.ports",
    "InvalidInput": "appcase.errors",
    "JudgePayload": "appcase.workflow.commands",
    "JudicialState": "appcase.states",
    "Jurisdiction": "appcase.policies.campaign",
    "LedgerFile": "appcase.workflow.ledger",
    "LedgerHeaderNotFound": "appcase.errors",
    "LedgerProblem": "appcase.workflow.ledger",
    "LibraryError": "appcase.errors",
    "ListenerVetoed": "appcase.errors",
    "Listeners": "appcase.workflow.listeners",
    "NaiveDatetimeError": "appcase.errors",
    "NotAuthorised": "appcase.errors",
    "Override": "appcase.workflow.commands",
    "PersistenceError": "appcase.errors",
    "Phase": "appcase.policies.campaign",
    "PledgeRecord": "appcase.ports",
    "PolicyParams": "appcase.policies.campaign",
    "Queries": "appcase.ports",
    "Rejection": "appcase.errors",
    "RelayCursor": "appcase.ports",
    "Reporter": "appcase.workflow.commands",
    "ReporterRecord": "appcase.ports",
    "SealedEvent": "appcase.ports",
    "RoleSpec": "appcase.policies.campaign",
    "RuleFired": "appcase.policies.disposition",
    "Severity": "appcase.states",
    "Signer": "appcase.audit.keys",
    "State": "appcase.states",
    "Storage": "appcase.ports",
    "StoredActor": "appcase.ports",
    "StoredAdminAct": "appcase.ports",
    "StoredApp": "appcase.ports",
    "StoredCampaign": "appcase.ports",
    "StoredCase": "appcase.ports",
    "StoredCheckpoint": "appcase.ports",
    "StoredEvent": "appcase.ports",
    "StoredGrant": "appcase.ports",
    "StoredToken": "appcase.ports",
    "SurveyBatchResult": "appcase.workflow.views",
    "SweepOutcome": "appcase.workflow.views",
    "SweepReport": "appcase.workflow.views",
    "SystemClock": "appcase.clock",
    "Track": "appcase.states",
    "Transition": "appcase.workflow.listeners",
    "TransitionTableError": "appcase.errors",
    "UnknownActor": "appcase.errors",
    "VerificationRecord": "appcase.ports",
    "VerifyKey": "appcase.audit.keys",
    "VerifyReport": "appcase.workflow.views",
    "attach": "appcase.bootstrap",
    "builtin_campaign": "appcase.policies.campaign",
    "checkpoint": "appcase.workflow.verify",
    "cloudevent": "appcase.workflow.feed",
    "export_bundle": "appcase.workflow.export",
    "feed": "appcase.workflow.feed",
    "find_case": "appcase.workflow.hotline",
    "get_as_of": "appcase.workflow.asof",
    "grant_override": "appcase.workflow.grants",
    "import_ledger": "appcase.workflow.ledger",
    "init_database": "appcase.bootstrap",
    "list_as_of": "appcase.workflow.asof",
    "list_grants": "appcase.workflow.grants",
    "load_campaign": "appcase.policies.campaign",
    "open_engine": "appcase.bootstrap",
    "report_hotline": "appcase.workflow.hotline",
    "revoke_grant": "appcase.workflow.grants",
    "summarise": "appcase.workflow.sweep",
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
    "ActorView",
    "AdminActView",
    "AdminLog",
    "AppIdentity",
    "AppcaseError",
    "AuditFailure",
    "AuditReport",
    "BatchRejected",
    "Campaign",
    "CampaignFileError",
    "CaseAsOf",
    "CaseEngine",
    "CaseFilter",
    "CaseNotFound",
    "CaseStore",
    "CaseView",
    "CheckpointView",
    "Clock",
    "CommitmentCheck",
    "ConcurrentModification",
    "DatabaseBusy",
    "DatabaseNotReady",
    "DeadlineParams",
    "Disposition",
    "DispositionParams",
    "DispositionResult",
    "EscalationGround",
    "Event",
    "EventView",
    "Evidence",
    "EvidenceRecord",
    "ExportResult",
    "Factors",
    "Finding",
    "FindingInput",
    "FindingRecord",
    "FixedClock",
    "GrantView",
    "GuardRejected",
    "HarmCategory",
    "ImportRejected",
    "ImportReport",
    "InterviewParams",
    "InterviewRecord",
    "InvalidInput",
    "JudgePayload",
    "JudicialState",
    "Jurisdiction",
    "LedgerFile",
    "LedgerHeaderNotFound",
    "LedgerProblem",
    "LibraryError",
    "ListenerVetoed",
    "Listeners",
    "NaiveDatetimeError",
    "NotAuthorised",
    "Override",
    "PersistenceError",
    "Phase",
    "PledgeRecord",
    "PolicyParams",
    "Queries",
    "Rejection",
    "RelayCursor",
    "Reporter",
    "ReporterRecord",
    "RoleSpec",
    "RuleFired",
    "SealedEvent",
    "Severity",
    "Signer",
    "State",
    "Storage",
    "StoredActor",
    "StoredAdminAct",
    "StoredApp",
    "StoredCampaign",
    "StoredCase",
    "StoredCheckpoint",
    "StoredEvent",
    "StoredGrant",
    "StoredToken",
    "SurveyBatchResult",
    "SweepOutcome",
    "SweepReport",
    "SystemClock",
    "Track",
    "Transition",
    "TransitionTableError",
    "UnknownActor",
    "VerificationRecord",
    "VerifyKey",
    "VerifyReport",
    "attach",
    "builtin_campaign",
    "checkpoint",
    "cloudevent",
    "export_bundle",
    "feed",
    "find_case",
    "get_as_of",
    "grant_override",
    "import_ledger",
    "init_database",
    "list_as_of",
    "list_grants",
    "load_campaign",
    "open_engine",
    "report_hotline",
    "revoke_grant",
    "summarise",
    "sweep",
    "verify",
]
__version__ = "0.1.0"
