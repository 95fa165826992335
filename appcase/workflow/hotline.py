"""Hotline reports (举报): a member of the public reports an app; the report becomes evidence.

Source: 三(一) -- the prefectures publish a hotline (公布监督举报电话) and collect evidence
from reports; 四(三) -- widen the reporting channels (丰富完善举报渠道).

A report is one evidence item with source ``hotline``. On a case that is ``surveyed`` or
``rectified`` it *flags* the case; on a ``flagged`` case it *joins the open flag*
(``add_evidence``); both are guarded exactly like ``flag`` (the patrol window, the
officer's role and jurisdiction, a known harm category). On a case in any other state
(already judged, interviewed, …) it is refused: a judgment in progress is not reopened by
a report; record it as new evidence once the case is back in ``surveyed`` or
``rectified``.

The reporter's name and contact are confidential (举报人信息保密): the engine stores them
apart, in the ``reporters`` table; the event and the evidence carry only an opaque
``reporter_ref``. Nothing here prints, logs or returns them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from appcase.errors import GuardRejected, InvalidInput, Rejection
from appcase.ports import CaseStore, StoredCase, StoredEvent
from appcase.states import Event, State
from appcase.states.identifiers import validate_uscc
from appcase.workflow.commands import Evidence, FlagPayload, Override
from appcase.workflow.context import ActorInfo
from appcase.workflow.engine import CaseEngine
from appcase.workflow.pipeline import parse_override
from appcase.workflow.views import CaseView, EventView, event_view

__all__ = ["find_case", "report_hotline"]


def find_case(engine: CaseEngine, *, name: str | None = None, uscc: str | None = None) -> CaseView:
    """Find the one case of an app by its name and/or its operator's credit code.

    Args:
        engine: the campaign's engine.
        name: the app's exact name, as listed in the ledger.
        uscc: the operator's unified social credit code (checked, GB 32100-2015).

    Returns:
        The case.

    Raises:
        InvalidInput: neither given, a malformed credit code, no such app in the ledger,
            or several apps match (the message lists their cases: give both, or the id).
    """
    if not name and not uscc:
        raise InvalidInput("name the app: its case id, its name or its credit code")
    if uscc:
        try:
            uscc = validate_uscc(uscc)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    candidates = engine.list_cases(text=name or uscc)
    found = [
        c
        for c in candidates
        if (not name or c.app.name == name) and (not uscc or c.app.uscc == uscc)
    ]
    if not found and uscc and not name:
        found = [c for c in engine.list_cases() if c.app.uscc == uscc]
    what = " and ".join(x for x in (name, uscc) if x)
    if not found:
        raise InvalidInput(
            f"no app {what} in the ledger; survey it first (appcase survey) or check the name"
        )
    if len(found) > 1:
        listed = ", ".join(f"{c.id} {c.app.name}" for c in found[:10])
        raise InvalidInput(f"{len(found)} apps match {what} ({listed}); give the case id")
    return found[0]


def report_hotline(
    engine: CaseEngine,
    case_id: str,
    evidence: Evidence | Mapping[str, Any],
    *,
    actor: str,
    at: datetime | None = None,
    override: Override | Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> EventView:
    """Record a hotline report about a case: flag it, or join its open flag.

    The case's state is read and the event fired in one transaction, so a report never
    races another officer's flag.

    Args:
        engine: the campaign's engine.
        case_id: the case reported about (see :func:`find_case` to find it by app).
        evidence: the report as an evidence item: ``harm_category``, ``description``,
            optionally ``locator``, ``captured_at`` and ``reporter`` (``{"name",
            "contact"}``, confidential). Its ``source`` is set to ``hotline``.
        actor: the officer recording the report.
        at: when it is recorded (aware; default: now); the patrol window applies.
        override: to record it after the patrol window closed: a grant for the event the
            report fires (flag or add_evidence), or a reason (see :class:`Override`).
        idempotency_key: a caller's key; a retry returns the event written the first time.

    Returns:
        The event written (``flag`` or ``add_evidence``); its payload holds the evidence
        with a ``reporter_ref``, never the reporter's details.

    Raises:
        InvalidInput: malformed evidence or override, naive ``at``, or an idempotency key
            that is malformed or was used for another command (another case, actor, event
            or report).
        CaseNotFound: no such case.
        UnknownActor: the actor is not registered.
        GuardRejected: the case's state takes no report, or a guard failed (every reason).
        ConcurrentModification: the case changed meanwhile; nothing was written.
    """
    try:
        item = (
            evidence
            if isinstance(evidence, Evidence)
            else Evidence.model_validate({**dict(evidence), "source": "hotline"})
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"the hotline report is not valid: {problems}") from None
    if item.source != "hotline":
        item = item.model_copy(update={"source": "hotline"})
    payload = FlagPayload(evidence=(item,))
    ovr = parse_override(override)
    pipe = engine.pipeline
    when = pipe.when(at)
    done = pipe.on_case(
        engine.storage,
        case_id,
        idempotency_key,
        lambda store: _replayed_report(engine, store, idempotency_key, case_id, actor, item),
        lambda store, case, who: _fire_report(
            engine, store, case, payload, actor, when, ovr, idempotency_key, who
        ),
        actor,
    )
    return event_view(done)


def _replayed_report(
    engine: CaseEngine,
    store: CaseStore,
    key: str | None,
    case_id: str,
    actor: str,
    item: Evidence,
) -> StoredEvent | None:
    """The event an earlier report with this key wrote, if any (``None`` without a key).

    Raises:
        InvalidInput: the key is malformed, or was used for another command or reporter.
    """
    if not key:
        return None
    payload = FlagPayload(evidence=(item,))
    done = engine.pipeline.replayed(
        store, key, case_id, (Event.FLAG, Event.ADD_EVIDENCE), actor, payload, None
    )
    if done is None:
        return None
    _same_reporter(store, key, item, done.payload)
    return done


def _same_reporter(store: CaseStore, key: str, item: Evidence, stored: dict[str, Any]) -> None:
    """Refuse a retry whose reporter is not the one stored with the first report (the event
    holds only an opaque reference, so the payloads alone cannot tell).

    Raises:
        InvalidInput: the reporter differs (its details are never echoed).
    """
    refs = [e.get("reporter_ref") for e in stored.get("evidence", [])]
    ref = refs[0] if refs else None
    found = store.reporter(ref) if isinstance(ref, str) else None
    given = item.reporter
    same = (found is None and given is None) or (
        found is not None
        and given is not None
        and (found.name, found.contact) == (given.name, given.contact)
    )
    if not same:
        raise InvalidInput(
            f"idempotency key {key!r} was already used for a report with another reporter; "
            "a retry repeats that report exactly; use a new key for a new report"
        )


def _fire_report(
    engine: CaseEngine,
    store: CaseStore,
    case: StoredCase,
    payload: FlagPayload,
    actor: str,
    when: datetime,
    ovr: Override | None,
    idempotency_key: str | None,
    who: ActorInfo | None = None,
) -> StoredEvent:
    """Flag the case, or add to its open flag, in ``store``'s transaction (``who``: the
    actor, if read with the case)."""
    state = State(case.state)
    if state is State.FLAGGED:
        event = Event.ADD_EVIDENCE
    elif state in (State.SURVEYED, State.RECTIFIED):
        event = Event.FLAG
    else:
        raise GuardRejected(
            case.id,
            case.state,
            "flag",
            [
                Rejection(
                    "state",
                    f"a case in state {case.state} takes no hotline report: a report flags "
                    "a surveyed or rectified case, or joins a flagged case's evidence",
                )
            ],
        )
    cmd = engine.pipeline.command(store, event, actor, payload, when, None, ovr, who)
    return engine.pipeline.run(store, case, cmd, idempotency_key)
