"""Verifying the case histories in the database: recompute every case's hash chain, fold its
events into the case they give, check every checkpoint, and take new checkpoints.

:func:`verify_events` is the check for one case: it recomputes each event's hash from its
stored fields, follows ``prev_hash`` links, compares the head stored on the case and
replays the transitions, and names the first damage it finds
(:func:`appcase.audit.chain.check_chain` classifies it):

* ``edited`` -- an event's content no longer matches its hash (or was rewritten with a
  new hash that its successor was not chained to);
* ``reordered`` -- an event's hash matches it only at another position of the chain;
* ``deleted`` -- an event is missing (a gap in the sequence, or a missing tail);
* ``inserted`` -- an event that the chain does not account for;
* ``head_mismatch`` -- the case's stored head is not the last event's hash;
* ``unreadable`` -- a row of the case (or of its events: the first such event is named)
  cannot be decoded: a value stored outside appcase (invalid JSON, an invalid instant);
* ``record_mismatch`` -- a record an event wrote beside itself (evidence, findings, the
  interview, the pledge, the verification), which the guards rely on, is missing or is not
  what the event's payload says, or a record names no event that wrote it
  (:mod:`appcase.workflow.event_records`);
* ``state_mismatch`` -- folding the events (:mod:`appcase.audit.fold`, the fold the engine
  writes cases with) does not give the case's stored states (both tracks) and projections
  (disposition, referral flag, pledge deadline and due instant, last event time, the
  prefecture, the app's identity, the flag's instant).

:func:`verify` adds the campaign's checkpoints (``checkpoint_mismatch``: a case deleted, or
a history changed, since a checkpoint; the checkpoints' own chain) and, given a key, their
signatures (``bad_signature``). Everything is read through the storage's named queries
(:class:`appcase.ports.Queries`), in one snapshot: the cases with their apps and records
in batches, and every event by one streamed query
(:meth:`~appcase.ports.Queries.sealed_events`) with the bytes its hash was taken over.

An event is proven by its stored bytes when its columns, encoded canonically, are exactly
those bytes and their SHA-256 is its stored hash -- an exact check (``true`` is not ``1``)
that costs one encoding, no decoding of the bytes and no walk of the record. A case whose
events are all so proven is checked through the records the bytes give, without
recomputing a hash; any other case (an event without bytes, written before migration 0008
with columns that did not give its hash; a column, the hash or the bytes changed) is
checked as :func:`verify_events` does, from its decoded columns, and then its bytes
against those columns (``edited`` when only the bytes were changed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from functools import partial
from typing import Any, NamedTuple

import structlog
from pydantic import BaseModel, ConfigDict, Field

from appcase.audit.canonical import encodes_to
from appcase.audit.chain import Problem, check_chain
from appcase.audit.checkpoints import check_checkpoints, check_heads, new_checkpoint
from appcase.audit.fold import CaseFold, FoldError, differences
from appcase.audit.fold import replay as fold_events
from appcase.audit.keys import AuditInputError, Signer, VerifyKey
from appcase.audit.records import format_instant, hashed_record, record_bytes, record_from_text
from appcase.errors import CaseDamaged, CaseNotFound, InvalidInput, Unreadable
from appcase.ports import (
    CaseFilter,
    Queries,
    Record,
    SealedEvent,
    StoredApp,
    StoredCase,
    StoredCheckpoint,
    StoredEvent,
)
from appcase.workflow.damage import UNREADABLE, UNREADABLE_VALUES, reason, unreadable_rows
from appcase.workflow.engine import CaseEngine
from appcase.workflow.event_records import check_records
from appcase.workflow.governance import read_admin_acts
from appcase.workflow.table import fold_transitions
from appcase.workflow.views import VerifyReport, identity_of

__all__ = [
    "REPLAYED",
    "AuditReport",
    "CheckpointView",
    "Problem",
    "checkpoint",
    "checkpoint_dict",
    "compare",
    "log_event",
    "replay",
    "replay_all",
    "verify",
    "verify_events",
]


def log_event(event: str, **fields: Any) -> None:
    """Log an audit event (``audit.verify``, ``audit.export``, ...: counts only), once the
    application has configured structlog (unconfigured, structlog would print to standard
    output; a library must not).

    Args:
        event: the event's name.
        **fields: its fields (never a reporter's details).
    """
    if structlog.is_configured():
        structlog.get_logger("appcase.audit").info(event, **fields)


class AuditReport(VerifyReport):
    """Result of :func:`verify`: a :class:`~appcase.workflow.views.VerifyReport` with the
    checkpoints.

    Attributes:
        checkpoints: how many checkpoints were checked.
        signatures_checked: how many checkpoint signatures were verified with the key given.
        notes: remarks that are not damage (e.g. signatures not checked for want of a key).
        problems: also ``checkpoint_mismatch``, ``bad_signature`` and ``admin_log``; a
            problem of the campaign as a whole (its checkpoints, the administrators' log)
            has an empty case id. Cases come first,
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
        heads_digest / prev_digest / digest: see :mod:`appcase.audit.checkpoints`.
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


REPLAYED = (
    "state",
    "judicial_state",
    "event_count",
    "disposition",
    "suspected_illegal",
    "pledge_deadline",
    "last_occurred_at",
)
"""The case fields :func:`compare` checks: both tracks, the chain's length, the judgment's
and the pledge's fields, the last event's instant."""


def checkpoint_dict(checkpoint: StoredCheckpoint) -> dict[str, Any]:
    """A stored checkpoint as the checks and bundles read it.

    Args:
        checkpoint: the stored checkpoint.

    Returns:
        ``{"seq", "created_at", "campaign_digest", "cases", "events", "heads_digest",
        "prev_digest", "digest", "heads", "signature"}`` -- ``created_at`` in UTC as
        :func:`~appcase.audit.records.format_instant` writes it, ``signature`` ``None`` or
        ``{"alg", "key_id", "value"}``.
    """
    signature = None
    if checkpoint.signature_alg is not None:
        signature = {
            "alg": checkpoint.signature_alg,
            "key_id": checkpoint.key_id,
            "value": checkpoint.signature,
        }
    return {
        "seq": checkpoint.seq,
        "created_at": format_instant(checkpoint.created_at),
        "campaign_digest": checkpoint.campaign_digest,
        "cases": checkpoint.case_count,
        "events": checkpoint.event_count,
        "heads_digest": checkpoint.heads_digest,
        "prev_digest": checkpoint.prev_digest,
        "digest": checkpoint.digest,
        "heads": checkpoint.heads,
        "signature": signature,
    }


def replay(
    events: Iterable[StoredEvent], zone: tzinfo | None = None
) -> tuple[CaseFold, FoldError | None]:
    """Fold stored events into the case they give, from the initial states.

    Each event must be a transition of its track out of the state reached so far, to the
    state it records; the guards are not run again (they were judged at the time, against
    that time's clock). The rest of the case follows the fold's rules
    (:mod:`appcase.audit.fold`, the one the engine writes cases with).

    Args:
        events: the case's stored events in chain order.
        zone: the campaign's time zone, for ``pledge_due_at`` (``None``: not computed).

    Returns:
        The case as far as the events follow, and the first event that does not (or
        ``None``).
    """
    entries = ((hashed_record(ev), ev.hash) for ev in events)
    return fold_events(entries, fold_transitions(), zone)


def compare(case: StoredCase, folded: CaseFold) -> list[str]:
    """Where a stored case differs from its replay on :data:`REPLAYED`.

    Args:
        case: the stored case.
        folded: its replay (:func:`replay`).

    Returns:
        ``"field: replay gives X, the case stores Y"`` per difference, tracks first.
    """
    return differences(folded, {name: getattr(case, name) for name in REPLAYED})


def _mismatch(case: StoredCase, folded: CaseFold, error: FoldError | None) -> Problem | None:
    if error is not None:
        return (case.id, None, "state_mismatch", str(error))
    diffs = compare(case, folded)
    if not diffs:
        return None
    return (case.id, None, "state_mismatch", "; ".join(diffs))


def verify_events(
    case: StoredCase,
    events: Sequence[StoredEvent],
    app: StoredApp | None = None,
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
    return _verify_entries(case, entries, app, zone)


def _verify_entries(
    case: StoredCase,
    entries: list[tuple[dict[str, Any], str]],
    app: StoredApp | None,
    zone: tzinfo | None,
    *,
    hashed: bool = False,
) -> Problem | None:
    """:func:`verify_events` on ``(hashed record, stored hash)`` pairs (``hashed``: each
    stored hash is known to be its record's, see :func:`appcase.audit.chain.check_chain`)."""
    found = check_chain(case.id, entries, case.event_count, case.head_hash, hashed=hashed)
    if found is not None:
        return found
    folded, error = fold_events(entries, fold_transitions(), zone)
    # Equal values describe no difference: the descriptions are built only where one is.
    if error is not None or any(getattr(folded, n) != getattr(case, n) for n in REPLAYED):
        found = _mismatch(case, folded, error)
        if found is not None:
            return found
    stored: dict[str, Any] = {"prefecture": case.prefecture, "flagged_at": case.flagged_at}
    if app is not None:
        stored["app"] = identity_of(app).model_dump(mode="json")
    if zone is not None:
        stored["pledge_due_at"] = case.pledge_due_at
    if all(getattr(folded, name) == value for name, value in stored.items()):
        return None
    diffs = differences(folded, stored)
    if diffs:
        return (case.id, None, "state_mismatch", "; ".join(diffs))
    return None


BYTES_EDITED = "its stored canonical bytes are not the record its columns and hash give"
"""The detail of an ``edited`` problem found in an event's stored bytes alone."""


class _Facts(NamedTuple):
    """What the records check reads of an event checked through its stored bytes."""

    position: int
    seq: int
    event: str
    payload: dict[str, Any]


def _sealed_records(events: Sequence[SealedEvent]) -> list[dict[str, Any]] | None:
    """The hashed records of a case's events, each proven by its stored bytes: its columns
    encode canonically to exactly those bytes, whose SHA-256 is its stored hash. ``None``
    as soon as one event is not so proven (no bytes, a column that differs, bytes or a
    hash changed, a value that cannot be read): the case is then checked slowly."""
    records: list[dict[str, Any]] = []
    loads, sha256 = json.loads, hashlib.sha256
    for ev in events:
        data = ev.canonical
        if data is None or ev.payload is None:
            return None
        try:
            override = None if ev.override is None else loads(ev.override)
            record = record_from_text(ev, loads(ev.payload), override)
        except (ValueError, TypeError, RecursionError):
            return None
        if not encodes_to(record, data) or sha256(data).hexdigest() != ev.hash:
            return None
        records.append(record)
    return records


def _bytes_problem(
    case_id: str, events: Sequence[StoredEvent], sealed: Sequence[SealedEvent]
) -> Problem | None:
    """The first event (of a case whose chain holds) whose stored bytes are not the
    canonical encoding of the record its columns give."""
    stored = {ev.position: ev.canonical for ev in sealed}
    for ev in events:
        data = stored.get(ev.position)
        if data is None:
            continue
        try:
            expected: bytes | None = record_bytes(hashed_record(ev))
        except ValueError:
            expected = None
        if data != expected:
            return (case_id, ev.seq, "edited", BYTES_EDITED)
    return None


def _check_case(
    q: Queries,
    case: StoredCase,
    app: StoredApp,
    sealed: list[SealedEvent],
    recs: list[Record],
    zone: tzinfo | None,
) -> tuple[Problem | None, bool]:
    """A case's first problem, and whether every event of it was proven by its stored
    bytes: then the case is checked through them, else from its columns (read again,
    decoded), and the bytes against those columns."""
    records = _sealed_records(sealed)
    if records is not None:
        entries = [(r, ev.hash) for r, ev in zip(records, sealed, strict=True)]
        found = _verify_entries(case, entries, app, zone, hashed=True)
        if found is None:
            facts = [
                _Facts(ev.position, ev.seq, ev.event, r["payload"])
                for r, ev in zip(records, sealed, strict=True)
            ]
            found = check_records(case.id, facts, recs)
        return found, True
    got, bad, _ = unreadable_rows(partial(q.events_of, [case.id]))
    if bad:
        c, s, why = bad[0]
        return (c, s, UNREADABLE, why), False
    evs = got.get(case.id, [])
    found = (
        verify_events(case, evs, app, zone)
        or _bytes_problem(case.id, evs, sealed)
        or check_records(case.id, evs, recs)
    )
    return found, False


class _Stream:
    """The campaign's events, streamed in the cases' order, handed out case by case."""

    def __init__(self, events: Iterator[SealedEvent]) -> None:
        self._events = events
        self._head = next(events, None)

    def take(self, case_id: str, seen: set[str]) -> list[SealedEvent]:
        """The events of ``case_id``; those of cases in ``seen`` (read before it, or not
        readable) met first are passed over."""
        head, out = self._head, []
        while head is not None and head.case_id != case_id and head.case_id in seen:
            head = next(self._events, None)
        while head is not None and head.case_id == case_id:
            out.append(head)
            head = next(self._events, None)
        self._head = head
        return out


Item = tuple[StoredCase, StoredApp, list[StoredEvent], list[Record]]
"""A case as verification reads it: its row, its ledger entry, its events, its records."""


def _batches(
    engine: CaseEngine, case_id: str | None, batch_size: int, *, records: bool = False
) -> Iterator[tuple[list[Item], list[Problem]]]:
    """Cases with their apps, events and (with ``records``) records, a batch per
    consistent read, and an ``unreadable`` problem per case of the batch whose rows cannot
    be read."""
    campaign_id = engine.campaign.id
    if case_id is not None:
        with engine.storage.reading(snapshot=True) as q:
            found = _one_case(q, campaign_id, case_id)
            if found is not None:
                pairs, problems = found
                yield (_with_events(q, pairs, [], records) if pairs else ([], problems))
        return
    after: str | None = None
    while True:
        with engine.storage.reading(snapshot=True) as q:
            flt = CaseFilter(after_id=after, limit=batch_size)
            pairs, bad, last = unreadable_rows(partial(q.cases, campaign_id, flt))
            if not pairs and not bad:
                return
            batch = _with_events(q, pairs, bad, records)
        yield batch
        after = last if last is not None else pairs[-1][0].id


def _one_case(
    q: Queries, campaign_id: str, case_id: str
) -> tuple[list[tuple[StoredCase, StoredApp]], list[Problem]] | None:
    """The case ``case_id`` of the campaign with its app, or its ``unreadable`` problem
    (its row or its ledger entry cannot be read); ``None`` if the campaign has no such
    case."""
    try:
        case = q.case(case_id)
        if case is None or case.campaign_id != campaign_id:
            return None
        return [(case, q.app(case.app_id))], []
    except CaseDamaged as exc:
        return [], [(case_id, None, UNREADABLE, exc.detail)]
    except UNREADABLE_VALUES as exc:  # its ledger entry
        return [], [(case_id, None, UNREADABLE, f"its row cannot be read: {reason(exc)}")]


def _with_events(
    q: Queries,
    pairs: list[tuple[StoredCase, StoredApp]],
    bad: list[Unreadable],
    records: bool,
) -> tuple[list[Item], list[Problem]]:
    """The cases of ``pairs`` with their events and records, and the ``unreadable``
    problems of ``bad`` and of the cases whose events or records cannot be read."""
    ids = [c.id for c, _ in pairs]
    evs, bad_events, _ = unreadable_rows(partial(q.events_of, ids))
    bad = [*bad, *bad_events]
    recs: dict[str, list[Record]] = {}
    if records:
        recs, bad_records, _ = unreadable_rows(partial(q.records_of, ids))
        bad += [b for b in bad_records if b[0] not in {c for c, _, _ in bad}]
    skipped = {c for c, _, _ in bad}
    items = [(c, a, evs[c.id], recs.get(c.id, [])) for c, a in pairs if c.id not in skipped]
    return items, [(c, s, UNREADABLE, why) for c, s, why in bad]


def _case_batches(
    q: Queries, campaign_id: str, case_id: str | None, batch_size: int
) -> Iterator[tuple[list[tuple[StoredCase, StoredApp, list[Record]]], list[Problem]]]:
    """The campaign's cases (or one) in id order, with their apps and records, a batch at
    a time in ``q``'s unit of work, and an ``unreadable`` problem per case of the batch
    whose rows cannot be read."""
    if case_id is not None:
        found = _one_case(q, campaign_id, case_id)
        if found is not None:
            pairs, problems = found
            yield (_with_records(q, pairs, []) if pairs else ([], problems))
        return
    after: str | None = None
    while True:
        flt = CaseFilter(after_id=after, limit=batch_size)
        pairs, bad, last = unreadable_rows(partial(q.cases, campaign_id, flt))
        if not pairs and not bad:
            return
        yield _with_records(q, pairs, bad)
        after = last if last is not None else pairs[-1][0].id


def _with_records(
    q: Queries, pairs: list[tuple[StoredCase, StoredApp]], bad: list[Unreadable]
) -> tuple[list[tuple[StoredCase, StoredApp, list[Record]]], list[Problem]]:
    """The cases of ``pairs`` with their records, and the ``unreadable`` problems of
    ``bad`` and of the cases whose records cannot be read."""
    recs, bad_records, _ = unreadable_rows(partial(q.records_of, [c.id for c, _ in pairs]))
    bad = [*bad, *(b for b in bad_records if b[0] not in {c for c, _, _ in bad})]
    skipped = {c for c, _, _ in bad}
    items = [(c, a, recs.get(c.id, [])) for c, a in pairs if c.id not in skipped]
    return items, [(c, s, UNREADABLE, why) for c, s, why in bad]


def verify(
    engine: CaseEngine,
    case_id: str | None = None,
    *,
    key: VerifyKey | None = None,
    batch_size: int = 500,
) -> AuditReport:
    """Verify one case or the whole campaign: every chain, head and replay, every
    checkpoint (a case deleted or a history changed since it), with ``key`` the
    checkpoints' signatures, and (for the whole campaign) the administrators' log's hash
    chain (problems of kind ``admin_log``, :func:`~appcase.workflow.governance.check_admin_log`).

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
    with engine.storage.reading() as q:
        stored = q.campaign(campaign.id)
        campaign_digest = stored.digest if stored is not None else campaign.digest()
        cps = [checkpoint_dict(c) for c in q.checkpoints(campaign.id)]
        admin_problems = read_admin_acts(q)[1] if case_id is None else []
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
    cases = events = legacy = 0
    zone = campaign.zone
    with engine.storage.reading(snapshot=True) as q:
        stream = _Stream(q.sealed_events(campaign.id, case_id))
        for batch, unreadable in _case_batches(q, campaign.id, case_id, batch_size):
            for problem in unreadable:
                cases += 1
                existing.add(problem[0])
                problems[problem[0]] = problem
            for case, app, recs in batch:
                cases += 1
                existing.add(case.id)
                sealed = stream.take(case.id, existing)
                events += len(sealed)
                for n in needed.get(case.id, ()):
                    if 1 <= n <= len(sealed):
                        kept[(case.id, n)] = sealed[n - 1].hash
                found, proven = _check_case(q, case, app, sealed, recs, zone)
                if not proven:
                    legacy += sum(ev.canonical is None for ev in sealed)
                if found is not None:
                    problems[case.id] = found
    if legacy:
        notes.append(
            f"{legacy} event(s) without stored canonical bytes, checked from their columns "
            "(written before migration 0008 with columns that did not give their hash, or "
            "by a writer that does not store them)"
        )
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
    ordered += [("", None, "admin_log", p) for p in admin_problems]
    log_event(
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
    """Rebuild every case (or one) from its events with the fold and compare it with the
    stored case on both tracks and the fields of :data:`REPLAYED`.

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
    for batch, unreadable in _batches(engine, case_id, batch_size):
        cases += len(unreadable)
        problems += unreadable
        for case, _app, evs, _recs in batch:
            cases += 1
            found = _mismatch(case, *replay(evs))
            if found is not None:
                problems.append(found)
    if case_id is not None and cases == 0:
        raise CaseNotFound(case_id)
    log_event("audit.replay", cases=cases, mismatches=len(problems))
    return cases, sorted(problems, key=lambda p: p[0])


def checkpoint(engine: CaseEngine, *, signer: Signer | None = None) -> CheckpointView:
    """Record a checkpoint of every case's head now, chained to the previous one.

    Runs in one transaction that first holds other checkpoints off (so that two taken at
    once queue, and each follows the other).

    Args:
        engine: the engine (its clock gives the checkpoint's instant, UTC).
        signer: a key to sign the checkpoint's digest with, or ``None``.

    Returns:
        The checkpoint.

    Raises:
        PersistenceError: the database refused the write.
    """
    campaign = engine.campaign
    with engine.storage.transaction() as store:
        store.lock_checkpoints()
        now = engine.clock.now()
        stored = store.campaign(campaign.id)
        digest = stored.digest if stored is not None else campaign.digest()
        last = store.latest_checkpoint(campaign.id)
        previous = None if last is None else {"seq": last.seq, "digest": last.digest}
        cp = new_checkpoint(campaign.id, digest, store.heads(campaign.id), now, previous, signer)
        signature = cp["signature"] or {}
        row = StoredCheckpoint(
            campaign_id=campaign.id,
            seq=cp["seq"],
            created_at=now,
            campaign_digest=digest,
            case_count=cp["cases"],
            event_count=cp["events"],
            heads=cp["heads"],
            heads_digest=cp["heads_digest"],
            prev_digest=cp["prev_digest"],
            digest=cp["digest"],
            signature_alg=signature.get("alg"),
            key_id=signature.get("key_id"),
            signature=signature.get("value"),
        )
        store.add_checkpoint(row)
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
    log_event(
        "audit.checkpoint",
        seq=view.seq,
        cases=view.cases,
        events=view.events,
        signed=view.signature_alg is not None,
    )
    return view
