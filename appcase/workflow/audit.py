"""Audit: recompute every case's hash chain, replay its events through the machine, check
every checkpoint, and take new checkpoints.

:func:`verify_events` is the check for one case: it recomputes each event's hash from its
stored fields, follows ``prev_hash`` links, compares the head stored on the case and
replays the transitions, and names the first damage it finds
(:func:`appcase.persistence.chain.check_chain` classifies it):

* ``edited`` -- an event's content no longer matches its hash (or was rewritten with a
  new hash that its successor was not chained to);
* ``reordered`` -- an event's hash matches it only at another position of the chain;
* ``deleted`` -- an event is missing (a gap in the sequence, or a missing tail);
* ``inserted`` -- an event that the chain does not account for;
* ``head_mismatch`` -- the case's stored head is not the last event's hash;
* ``state_mismatch`` -- replaying the events does not give the case's stored states (both
  tracks) and projections (disposition, referral flag, pledge deadline, last event time).

:func:`verify` adds the campaign's checkpoints (``checkpoint_mismatch``: a case deleted, or
a history changed, since a checkpoint; the checkpoints' own chain) and, given a key, their
signatures (``bad_signature``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol

import structlog
from pydantic import BaseModel, ConfigDict, Field

from appcase.errors import CaseNotFound, InvalidInput
from appcase.persistence.chain import (
    AuditInputError,
    Problem,
    VerifyKey,
    check_chain,
    check_checkpoints,
    check_heads,
    format_instant,
    project_case,
    projection_differences,
)
from appcase.persistence.checkpoints import (
    Signer,
    checkpoint_dict,
    events_of,
    load_checkpoints,
    take_checkpoint,
)
from appcase.persistence.models import AppRow, CaseRow, EventRow
from appcase.ports import CaseFilter
from appcase.states import Event, JudicialState, State
from appcase.workflow.engine import CaseEngine
from appcase.workflow.machine import machines
from appcase.workflow.views import VerifyReport, identity_of

__all__ = [
    "AuditReport",
    "CheckpointView",
    "Problem",
    "Replayed",
    "checkpoint",
    "compare",
    "hashed_record",
    "replay",
    "replay_all",
    "verify",
    "verify_events",
]


def _log(event: str, **fields: Any) -> None:
    """Log an audit event, once the application has configured structlog (unconfigured,
    structlog would print to standard output; a library must not)."""
    if structlog.is_configured():
        structlog.get_logger("appcase.audit").info(event, **fields)


class AuditReport(VerifyReport):
    """Result of :func:`verify`: a :class:`~appcase.workflow.views.VerifyReport` with the
    checkpoints.

    Attributes:
        checkpoints: how many checkpoints were checked.
        signatures_checked: how many checkpoint signatures were verified with the key given.
        notes: remarks that are not damage (e.g. signatures not checked for want of a key).
        problems: also ``checkpoint_mismatch`` and ``bad_signature``; a problem of the
            campaign as a whole (its checkpoints) has an empty case id. Cases come first,
            by id.
    """

    checkpoints: int = 0
    signatures_checked: int = 0
    notes: list[str] = Field(default_factory=list)


class CheckpointView(BaseModel):
    """A checkpoint taken (``appcase audit checkpoint``).

    Attributes:
        seq: 1, 2, ... within the campaign.
        created_at: when (UTC).
        cases / events: what it covers.
        heads_digest / prev_digest / digest: see :mod:`appcase.persistence.checkpoints`.
        signature_alg / key_id: ``ed25519`` or ``hmac-sha256`` and the key's id, or
            ``None`` if unsigned.
    """

    model_config = ConfigDict(frozen=True)

    campaign_id: str
    seq: int
    created_at: datetime
    cases: int
    events: int
    heads_digest: str
    prev_digest: str
    digest: str
    signature_alg: str | None
    key_id: str | None


class ReplayableEvent(Protocol):
    """What replay reads of an event (an :class:`EventRow` or an ``EventView``)."""

    @property
    def seq(self) -> int: ...
    @property
    def event(self) -> str: ...
    @property
    def from_state(self) -> str: ...
    @property
    def to_state(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def hash(self) -> str: ...


@dataclass(frozen=True)
class Replayed:
    """A case rebuilt from its events.

    Attributes:
        state / judicial_state: both tracks.
        event_count / head_hash: length and head of the chain replayed.
        disposition: the latest judgment's disposition (``None`` before any).
        suspected_illegal: the latest judgment's referral flag (policy ``refer``).
        pledge_deadline: the latest pledge's deadline (local date of the campaign).
        last_occurred_at: when the last event happened (UTC), ``None`` for no events.
        problem: the first event that does not follow from the states before it.
    """

    state: str
    judicial_state: str
    event_count: int
    head_hash: str
    disposition: str | None
    suspected_illegal: bool
    pledge_deadline: date | None
    last_occurred_at: datetime | None
    problem: str | None = None


def hashed_record(ev: EventRow, seq: int | None = None) -> dict[str, Any]:
    """The hashed record of a stored event (see :mod:`appcase.persistence.chain`).

    Args:
        ev: the stored event.
        seq: use this sequence number instead of the stored one.

    Returns:
        The record (keys :data:`~appcase.persistence.chain.HASHED_FIELDS`).
    """
    return {
        "case_id": ev.case_id,
        "seq": ev.seq if seq is None else seq,
        "track": ev.track,
        "event": ev.event,
        "from": ev.from_state,
        "to": ev.to_state,
        "actor": ev.actor_id,
        "role": ev.role,
        "jurisdiction": ev.jurisdiction,
        "occurred_at": format_instant(ev.occurred_at),
        "recorded_at": format_instant(ev.recorded_at),
        "payload": ev.payload,
        "reason": ev.reason,
        "override": ev.override,
        "prev_hash": ev.prev_hash,
    }


def replay(events: Sequence[ReplayableEvent]) -> Replayed:
    """Replay events through the ``transitions`` machines from the initial states.

    Each event must be a transition of its track's machine out of the state reached so
    far, to the state it records; the guards are not run again (they were judged at the
    time, against that time's clock). The projections follow the engine's rules: a
    ``judge`` sets the disposition and the referral flag, a ``pledge`` its deadline.

    Args:
        events: the case's events in chain order.

    Returns:
        The states and projections reached, and the first event that does not follow.
    """
    ms = machines()
    state, judicial = State.NEW.value, JudicialState.NOT_REFERRED.value
    disposition: str | None = None
    illegal = False
    deadline: date | None = None
    last: datetime | None = None
    head = ""
    count = 0

    def result(problem: str | None = None) -> Replayed:
        return Replayed(state, judicial, count, head, disposition, illegal, deadline, last, problem)

    for ev in events:
        try:
            event = Event(ev.event)
        except ValueError:
            return result(f"event #{ev.seq}: unknown event {ev.event!r}")
        machine = ms.for_event(event)
        current = judicial if machine is ms.judicial else state
        found = machine.get_transitions(trigger=event.value, source=current)
        if not found or ev.from_state != current or ev.to_state != found[0].dest:
            return result(
                f"event #{ev.seq}: {ev.event} {ev.from_state}→{ev.to_state} does not follow "
                f"from {current}"
            )
        if machine is ms.judicial:
            judicial = found[0].dest
        else:
            state = found[0].dest
        payload = ev.payload if isinstance(ev.payload, dict) else {}
        if event is Event.JUDGE:
            disposition = payload.get("disposition")
            illegal = bool((payload.get("policy") or {}).get("refer", False))
        elif event is Event.PLEDGE and payload.get("deadline"):
            try:
                deadline = date.fromisoformat(str(payload["deadline"]))
            except ValueError:
                return result(f"event #{ev.seq}: pledge deadline {payload['deadline']!r}")
        count += 1
        head = ev.hash
        last = ev.occurred_at
    return result()


def compare(case: CaseRow, replayed: Replayed) -> list[tuple[str, Any, Any]]:
    """Fields where the stored case differs from its replay.

    Returns:
        ``(field, replayed value, stored value)`` per difference, tracks first.
    """
    pairs: list[tuple[str, Any, Any]] = [
        ("state", replayed.state, case.state),
        ("judicial_state", replayed.judicial_state, case.judicial_state),
        ("event_count", replayed.event_count, case.event_count),
        ("disposition", replayed.disposition, case.disposition),
        ("suspected_illegal", replayed.suspected_illegal, case.suspected_illegal),
        ("pledge_deadline", replayed.pledge_deadline, case.pledge_deadline),
        ("last_occurred_at", replayed.last_occurred_at, case.last_occurred_at),
    ]
    return [(name, r, s) for name, r, s in pairs if r != s]


def _mismatch(case: CaseRow, replayed: Replayed) -> Problem | None:
    if replayed.problem is not None:
        return (case.id, None, "state_mismatch", replayed.problem)
    diffs = compare(case, replayed)
    if not diffs:
        return None
    text = "; ".join(f"{name}: replay gives {r}, the case stores {s}" for name, r, s in diffs)
    return (case.id, None, "state_mismatch", text)


def verify_events(
    case: CaseRow,
    events: Sequence[EventRow],
    app: AppRow | None = None,
    zone: tzinfo | None = None,
) -> Problem | None:
    """Check one case's chain, head, replay and the stored projections of its events.

    Args:
        case: the stored case.
        events: its stored events in ``seq`` order.
        app: its ledger entry: its identity must be the one its survey recorded.
        zone: the campaign's time zone: the sweep's due instant must follow the pledge's
            deadline (local midnight after it) while the case is pledged.

    Returns:
        Its first problem, or ``None``. Edited projections -- the prefecture, the app, the
        disposition, the deadline the sweep reads -- are ``state_mismatch`` problems.
    """
    entries = [(hashed_record(ev), ev.hash) for ev in events]
    found = check_chain(case.id, entries, case.event_count, case.head_hash)
    if found is not None:
        return found
    found = _mismatch(case, replay(events))
    if found is not None:
        return found
    stored: dict[str, Any] = {
        "prefecture": case.prefecture,
        "flagged_at": format_instant(case.flagged_at) if case.flagged_at else None,
    }
    if app is not None:
        stored["app"] = identity_of(app).model_dump(mode="json")
    diffs = projection_differences(project_case([r for r, _ in entries]), stored)
    if zone is not None:
        due = None
        if case.state == State.PLEDGED.value and case.pledge_deadline is not None:
            due = datetime.combine(case.pledge_deadline + timedelta(days=1), time.min, zone)
        if due != case.pledge_due_at:
            diffs.append(
                f"pledge_due_at: the pledge gives {due}, the case stores {case.pledge_due_at}"
            )
    if diffs:
        return (case.id, None, "state_mismatch", "; ".join(diffs))
    return None


def _batches(
    engine: CaseEngine, case_id: str | None, batch_size: int
) -> Iterator[list[tuple[CaseRow, AppRow, list[EventRow]]]]:
    """Cases with their apps and events, a batch per consistent read."""
    if case_id is not None:
        with engine.store.reading(snapshot=True) as repo:
            row = repo.case(case_id)
            if row is None or row.campaign_id != engine.campaign.id:
                return
            yield [(row, repo.app(row.app_id), repo.events(case_id))]
        return
    after: str | None = None
    while True:
        with engine.store.reading(snapshot=True) as repo:
            flt = CaseFilter(after_id=after, limit=batch_size)
            pairs = repo.cases(engine.campaign.id, flt)
            if not pairs:
                return
            evs = events_of(repo.session, [c.id for c, _ in pairs])
        yield [(c, a, evs.get(c.id, [])) for c, a in pairs]
        after = pairs[-1][0].id


def verify(
    engine: CaseEngine,
    case_id: str | None = None,
    *,
    key: VerifyKey | None = None,
    batch_size: int = 500,
) -> AuditReport:
    """Verify one case or the whole campaign: every chain, head and replay, every
    checkpoint (a case deleted or a history changed since it) and, with ``key``, the
    checkpoints' signatures.

    Args:
        engine: the engine.
        case_id: verify only this case (and the checkpoints' record of it).
        key: a public (or HMAC) key: the latest checkpoint must be signed with it, and
            every checkpoint signed with it must verify.
        batch_size: cases read per transaction (constant memory).

    Returns:
        The report; ``report.ok`` when nothing is wrong.

    Raises:
        CaseNotFound: ``case_id`` is given, unknown and in no checkpoint.
        InvalidInput: Ed25519 asked for but ``cryptography`` is missing.
    """
    campaign = engine.campaign
    with engine.store.reading() as repo:
        stored = repo.campaign(campaign.id)
        campaign_digest = stored.digest if stored is not None else campaign.digest()
        cps = [checkpoint_dict(r) for r in load_checkpoints(repo.session, campaign.id)]
    try:
        campaign_level, notes, checked = check_checkpoints(cps, campaign.id, campaign_digest, key)
    except AuditInputError as exc:
        raise InvalidInput(str(exc)) from None
    needed: dict[str, set[int]] = {}
    for cp in cps:
        for c, n, _ in cp["heads"]:
            needed.setdefault(c, set()).add(n)
    kept: dict[tuple[str, int], str] = {}
    existing: set[str] = set()
    problems: dict[str, Problem] = {}
    cases = events = 0
    for batch in _batches(engine, case_id, batch_size):
        for row, app, evs in batch:
            cases += 1
            events += len(evs)
            existing.add(row.id)
            for n in needed.get(row.id, ()):
                if 1 <= n <= len(evs):
                    kept[(row.id, n)] = evs[n - 1].hash
            found = verify_events(row, evs, app, campaign.zone)
            if found is not None:
                problems[row.id] = found
    if case_id is not None and case_id not in existing and case_id not in needed:
        raise CaseNotFound(case_id)
    heads = check_heads(
        cps, lambda c, n: kept.get((c, n)), lambda c: c in existing, only_case=case_id
    )
    for c, problem in heads.items():
        problems.setdefault(c, problem)
    if cps and case_id is None:
        after = events - int(cps[-1]["events"])
        if after > 0:
            notes.append(f"{after} event(s) recorded after the latest checkpoint")
    elif not cps:
        notes.append("no checkpoint yet: 'appcase audit checkpoint' records one")
    ordered = [problems[c] for c in sorted(problems)] + campaign_level
    _log(
        "audit.verify",
        cases=cases,
        events=events,
        checkpoints=len(cps),
        problems=len(ordered),
    )
    return AuditReport(
        cases=cases,
        events=events,
        problems=ordered,
        checkpoints=len(cps),
        signatures_checked=checked,
        notes=notes,
    )


def replay_all(
    engine: CaseEngine, case_id: str | None = None, *, batch_size: int = 500
) -> tuple[int, list[Problem]]:
    """Rebuild every case (or one) from its events through the machines and compare it
    with the stored case on both tracks and its projections.

    Args:
        engine: the engine.
        case_id: replay only this case.
        batch_size: cases read per transaction.

    Returns:
        ``(cases replayed, problems)``: one ``state_mismatch`` per case that differs,
        naming every field that does.

    Raises:
        CaseNotFound: ``case_id`` is given and unknown.
    """
    cases = 0
    problems: list[Problem] = []
    for batch in _batches(engine, case_id, batch_size):
        for row, _app, evs in batch:
            cases += 1
            found = _mismatch(row, replay(evs))
            if found is not None:
                problems.append(found)
    if case_id is not None and cases == 0:
        raise CaseNotFound(case_id)
    _log("audit.replay", cases=cases, mismatches=len(problems))
    return cases, sorted(problems, key=lambda p: p[0])


def checkpoint(engine: CaseEngine, *, signer: Signer | None = None) -> CheckpointView:
    """Record a checkpoint of every case's head now, chained to the previous one.

    Args:
        engine: the engine (its clock gives the checkpoint's instant).
        signer: a key to sign the checkpoint's digest with, or ``None``.

    Returns:
        The checkpoint.

    Raises:
        PersistenceError: the database refused the write.
    """
    campaign = engine.campaign
    with engine.store.transaction() as repo:
        stored = repo.campaign(campaign.id)
        digest = stored.digest if stored is not None else campaign.digest()
        row = take_checkpoint(repo.session, campaign.id, digest, engine.clock.now(), signer)
        view = CheckpointView(
            campaign_id=row.campaign_id,
            seq=row.seq,
            created_at=row.created_at,
            cases=row.case_count,
            events=row.event_count,
            heads_digest=row.heads_digest,
            prev_digest=row.prev_digest,
            digest=row.digest,
            signature_alg=row.signature_alg,
            key_id=row.key_id,
        )
    _log(
        "audit.checkpoint",
        seq=view.seq,
        cases=view.cases,
        events=view.events,
        signed=view.signature_alg is not None,
    )
    return view
