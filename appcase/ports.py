"""What the workflow needs from storage: small protocols, and the plain records they pass.

The workflow layer (:mod:`appcase.workflow`) states its needs here and never imports the
storage that meets them; :mod:`appcase.persistence` implements these protocols on
SQLAlchemy and is the only package that imports it. Everything crossing the seam is a plain
dataclass of this module (never an ORM object), so another store -- an in-memory fake in a
test, a caller's own transaction -- can stand behind the same engine.

The protocols:

* :class:`Storage` hands out units of work: :meth:`Storage.transaction` (one database
  transaction per command, committed at the end of the block, rolled back on any error)
  and :meth:`Storage.reading` (a read-only one);
* :class:`CaseStore` is what a command does inside its transaction: read the case and its
  facts, write the case with a version check, append the event and its records;
* :class:`Queries` are the named reads of views, reports, as-of, export and audit.

All instants are aware datetimes in UTC; dates are local dates of the campaign's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from operator import attrgetter
from typing import Any, NamedTuple, Protocol

__all__ = [
    "CASE_MOVED",
    "CASE_ORDERS",
    "CaseFilter",
    "CaseStore",
    "EvidenceRecord",
    "FindingRecord",
    "InterviewRecord",
    "PledgeRecord",
    "Queries",
    "Record",
    "RelayCursor",
    "ReporterRecord",
    "SealedEvent",
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
    "VerificationRecord",
    "record_fields",
]


@dataclass(slots=True)
class StoredCase:
    """A case as stored (the ``cases`` row): what a command reads, changes in memory with
    the machine and the fold, and writes back with a check that ``version`` is still the
    one read.

    Attributes:
        id: ``<case prefix>-<prefecture>-<number>``, e.g. ``HN2018-430100-0001``.
        campaign_id / app_id / prefecture: owner campaign, ledger entry, GB/T 2260 code.
        state / judicial_state: the two tracks' states (values of
            :class:`~appcase.states.State` and :class:`~appcase.states.JudicialState`).
        version: 1 after the survey, +1 per command.
        event_count / head_hash: the chain's length and the hash of its last event.
        disposition / suspected_illegal: the latest judgment's.
        flagged_at: the latest flag's instant (UTC).
        pledge_deadline / pledge_due_at: the current pledge's deadline (local date) and the
            instant the sweep finds it overdue (UTC), while pledged.
        created_at / last_occurred_at / updated_at: UTC instants.
    """

    id: str
    campaign_id: str
    app_id: int
    prefecture: str
    state: str
    judicial_state: str
    version: int
    event_count: int
    head_hash: str
    disposition: str | None
    suspected_illegal: bool
    flagged_at: datetime | None
    pledge_deadline: date | None
    pledge_due_at: datetime | None
    created_at: datetime
    last_occurred_at: datetime
    updated_at: datetime

    def copy(self) -> StoredCase:
        """A copy (the fields are immutable values, so a shallow copy is a full one)."""
        return StoredCase(*_case_fields(self))


_case_fields = attrgetter(*StoredCase.__dataclass_fields__)

CASE_MOVED = (
    "state",
    "judicial_state",
    "event_count",
    "head_hash",
    "disposition",
    "suspected_illegal",
    "flagged_at",
    "pledge_deadline",
    "pledge_due_at",
    "last_occurred_at",
    "updated_at",
)
"""The case fields a command may change, besides ``version`` (what
:meth:`CaseStore.save_case` writes)."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: one link of a case's hash chain.

    Attributes:
        position: the event's row id (unique, increasing as events are written).
        case_id / seq: the case and the 1-based position in its chain.
        track: ``administrative`` or ``judicial``.
        event / from_state / to_state: the transition.
        actor_id / role / jurisdiction: who fired it.
        occurred_at / recorded_at: when it happened and when it was written (UTC).
        payload: the event's payload as JSON (reporters only by reference).
        reason / override: the reason given and the override used, if any.
        idempotency_key: the caller's key, if any.
        prev_hash / hash: the chain links (64 hex digits).
        canonical: the bytes ``hash`` was taken over (the canonical JSON of the hashed
            record, :func:`appcase.audit.records.seal`), as written; ``None`` when not read
            (the reads of commands and views leave them out) or, for an event written
            before they were stored, not kept. Not compared, not shown.
    """

    position: int
    case_id: str
    seq: int
    track: str
    event: str
    from_state: str
    to_state: str
    actor_id: str
    role: str
    jurisdiction: str
    occurred_at: datetime
    recorded_at: datetime
    payload: dict[str, Any]
    reason: str | None
    override: dict[str, Any] | None
    idempotency_key: str | None
    prev_hash: str
    hash: str
    canonical: bytes | None = field(default=None, compare=False, repr=False)


class SealedEvent(NamedTuple):
    """An event as ``audit verify`` reads it (:meth:`Queries.sealed_events`): its columns
    as stored, in the forms its hashed record writes them, and the bytes hashed.

    Nothing is decoded by the read, so that no stored value can stop it: a value written
    outside appcase may be of another type than annotated, and is then simply not what
    the bytes say.

    Attributes:
        position / case_id / seq / track / event / from_state / to_state / actor_id /
            role / jurisdiction / reason / prev_hash / hash: as in :class:`StoredEvent`.
        occurred_at / recorded_at: the instants as the hashed record writes them
            (``YYYY-MM-DDTHH:MM:SS.ffffffZ``, UTC), or ``None`` if the stored value is not
            an instant in appcase's storage format.
        payload / override: the JSON text as stored (``override`` ``None`` when empty).
        canonical: the bytes the hash was taken over, or ``None`` (not kept: an event
            written before 0008 whose columns did not give its hash).
    """

    position: int
    case_id: str
    seq: int
    track: str
    event: str
    from_state: str
    to_state: str
    actor_id: str
    role: str
    jurisdiction: str
    occurred_at: str | None
    recorded_at: str | None
    payload: str | None
    reason: str | None
    override: str | None
    prev_hash: str
    hash: str
    canonical: bytes | None


@dataclass(frozen=True, slots=True)
class StoredApp:
    """A ledger entry: an app listed in a campaign (``id`` is 0 until it is written)."""

    id: int
    campaign_id: str
    name: str
    operator: str
    uscc: str
    icp_filing: str | None
    platforms: list[str]
    target_users: str
    used_by_schools: bool
    prefecture: str


@dataclass(frozen=True, slots=True)
class StoredActor:
    """A registered officer: id, role id, GB/T 2260 jurisdiction, display name."""

    id: str
    role: str
    jurisdiction: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class StoredAdminAct:
    """One entry of the administrators' log (append-only, hash-chained): an actor
    registered, a token issued or revoked.

    Attributes:
        seq: 1, 2, ... in the order the acts were done.
        recorded_at: when (UTC).
        actor_id: the administrator who did it (or the first administrator, registering
            itself).
        action: ``actor.add``, ``token.issue`` or ``token.revoke``.
        subject: the actor registered, or the token's id.
        detail: what else was done (the role and jurisdiction; the token's actor and expiry).
        prev_hash: the previous entry's hash (64 zeros for the first).
        hash: SHA-256 of this entry's canonical record
            (:func:`appcase.workflow.governance.act_hash`).
    """

    seq: int
    recorded_at: datetime
    actor_id: str
    action: str
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class StoredGrant:
    """An override grant, as stored: an officer's consent that one command may act after
    its window closed (or below the policy's minimum).

    Attributes:
        id: the grant's id (``og-`` and 16 hex digits).
        case_id: the case it is for, or ``None`` for a survey (which creates its case).
        prefecture: the case's prefecture (for a survey, the new case's).
        event: the event it is for (an :class:`~appcase.states.Event` value).
        authoriser_id: the officer who granted it.
        reason: why, in the authoriser's words.
        created_at / expires_at: when it was granted and when it stops working (UTC).
        revoked_at / revoked_by: when and by whom it was revoked, or ``None``.
        used_at / used_by / used_position: when, by whom and in which event (its feed
            position) it was used, or ``None``.
    """

    id: str
    case_id: str | None
    prefecture: str
    event: str
    authoriser_id: str
    reason: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    used_at: datetime | None = None
    used_by: str | None = None
    used_position: int | None = None


@dataclass(frozen=True, slots=True)
class StoredToken:
    """An API token of one actor, as stored: never the token itself, only its SHA-256.

    Attributes:
        id: the token's public id (shown by ``appcase actor token list``, used to revoke it).
        actor_id: the actor every request made with the token acts as.
        digest: SHA-256 of the token, hex.
        created_at / expires_at: when it was issued and when it stops working (UTC).
        revoked_at: when it was revoked, or ``None``.
    """

    id: str
    actor_id: str
    digest: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredCampaign:
    """A campaign as loaded into a database.

    Attributes:
        id / title / document_number / timezone: as in the campaign file.
        digest: SHA-256 of the canonical definition.
        definition: the campaign file's content as JSON text.
        loaded_at: when it was loaded (UTC).
    """

    id: str
    title: str
    document_number: str
    timezone: str
    digest: str
    definition: str
    loaded_at: datetime


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as stored (see :mod:`appcase.audit.checkpoints`).

    Attributes:
        campaign_id / seq: the campaign and 1, 2, ... within it.
        created_at: when (UTC).
        campaign_digest: the campaign's digest then.
        case_count / event_count: what it covers.
        heads: ``[[case_id, events, head_hash], ...]`` sorted by case id.
        heads_digest / prev_digest / digest: the checkpoint chain.
        signature_alg / key_id / signature: its signature, if signed.
    """

    campaign_id: str
    seq: int
    created_at: datetime
    campaign_digest: str
    case_count: int
    event_count: int
    heads: list[list[Any]]
    heads_digest: str
    prev_digest: str
    digest: str
    signature_alg: str | None
    key_id: str | None
    signature: str | None


# --- the records an event writes beside itself ----------------------------------------
@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """An evidence item of a ``flag`` or ``add_evidence`` event (numbered 1, 2, … per case)."""

    case_id: str
    event_id: int
    number: int
    harm_category: str
    description: str
    source: str
    locator: str
    captured_at: datetime | None
    attachment_sha256: str | None
    reporter_ref: str | None


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """A finding of a ``judge`` event."""

    case_id: str
    event_id: int
    harm_category: str
    severity: str
    suspected_illegal: bool
    evidence_refs: list[int]
    note: str


@dataclass(frozen=True, slots=True)
class InterviewRecord:
    """The record of an interview (约谈); instants UTC, the deadline a local date."""

    case_id: str
    event_id: int
    notice_given_at: datetime
    held_at: datetime
    place: str
    officers: list[str]
    operator_representatives: list[str]
    problems: list[str]
    rectification_deadline: date


@dataclass(frozen=True, slots=True)
class PledgeRecord:
    """A signed rectification pledge (整改承诺书)."""

    case_id: str
    event_id: int
    signed_by: str
    signed_at: datetime
    commitments: list[str]
    deadline: date


@dataclass(frozen=True, slots=True)
class VerificationRecord:
    """The verification of a rectification: every commitment's check."""

    case_id: str
    event_id: int
    checks: list[dict[str, Any]]
    all_verified: bool


@dataclass(frozen=True, slots=True)
class ReporterRecord:
    """A hotline reporter's confidential details, kept apart from the event (which holds
    only ``ref``)."""

    ref: str
    case_id: str
    name: str
    contact: str
    created_at: datetime


Record = EvidenceRecord | FindingRecord | InterviewRecord | PledgeRecord | VerificationRecord
"""A record an event writes beside itself, referencing the event's id."""


CASE_ORDERS = ("id", "state", "prefecture", "last-event")
"""The orders :meth:`Queries.cases` knows."""


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Filters of :meth:`Queries.cases` (all optional, combined with AND).

    Attributes:
        states: administrative states to include.
        judicial_states: judicial states to include.
        prefectures: GB/T 2260 codes to include.
        pledge_due_before: only pledged cases whose deadline has passed at this instant.
        text: a substring of the app's name or operator, or of the case id.
        last_event_from / last_event_before: only cases whose last event happened in
            ``[from, before)`` (aware instants).
        order: one of :data:`CASE_ORDERS`: ``id`` (default), ``state`` (in workflow order,
            then id), ``prefecture`` (then id) or ``last-event`` (oldest first, then id).
        after_id: keyset pagination: only ids greater than this (with ``order="id"``).
        limit: at most this many rows.
        skip_locked: on a server database, lock the rows read and skip rows other
            transactions hold (``FOR UPDATE SKIP LOCKED``), so several workers share work.
    """

    states: tuple[str, ...] = ()
    judicial_states: tuple[str, ...] = ()
    prefectures: tuple[str, ...] = ()
    pledge_due_before: datetime | None = None
    text: str | None = None
    last_event_from: datetime | None = None
    last_event_before: datetime | None = None
    order: str = "id"
    after_id: str | None = None
    limit: int | None = None
    skip_locked: bool = False


class Queries(Protocol):
    """Named reads, in a unit of work (:meth:`Storage.reading` or a transaction)."""

    def campaign(self, campaign_id: str) -> StoredCampaign | None:
        """The stored campaign with this id, or ``None``."""

    def actor(self, actor_id: str) -> StoredActor | None:
        """The registered actor with this id, or ``None``."""

    def actors(self) -> list[StoredActor]:
        """Every registered actor, by id."""

    def case(self, case_id: str, *, for_update: bool = False) -> StoredCase | None:
        """The case with this id, or ``None``; ``for_update`` locks its row until the end
        of the transaction (``SELECT … FOR UPDATE`` on a server database)."""

    def app(self, app_id: int) -> StoredApp:
        """The ledger entry with this id (it exists: cases reference it)."""

    def cases(self, campaign_id: str, flt: CaseFilter) -> list[tuple[StoredCase, StoredApp]]:
        """The campaign's cases matching ``flt``, in ``flt.order``, with their apps."""

    def case_states(self, campaign_id: str, flt: CaseFilter) -> list[StoredCase]:
        """The campaign's cases matching ``flt`` without their apps."""

    def case_with_head(
        self, case_id: str, *, for_update: bool = False, actor_id: str | None = None
    ) -> tuple[StoredCase, str | None, str | None, StoredActor | None] | None:
        """The case with this id, the hashes of its stored events number ``event_count``
        and ``event_count + 1`` (``None`` where there is none) and the registered actor
        ``actor_id`` (``None`` if not asked or not registered), in one read; or ``None`` if
        no such case."""

    def case_heads(
        self, campaign_id: str, flt: CaseFilter
    ) -> list[tuple[StoredCase, str | None, str | None]]:
        """The campaign's cases matching ``flt`` (locked with ``flt.skip_locked`` on a
        server database), each with the hashes of its stored events number ``event_count``
        and ``event_count + 1`` (``None`` where there is none): the sweep's read."""

    def events(self, case_id: str) -> list[StoredEvent]:
        """The case's events in chain order."""

    def events_of(self, case_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        """The events of many cases, in chain order, keyed by case id (one query)."""

    def event_by_key(self, key: str) -> StoredEvent | None:
        """The event written with this idempotency key, or ``None``."""

    def reporter(self, ref: str) -> ReporterRecord | None:
        """The confidential reporter record behind a reference, or ``None``."""

    def checkpoints(self, campaign_id: str) -> list[StoredCheckpoint]:
        """The campaign's checkpoints in order."""

    def feed(self, campaign_id: str, after: int, limit: int) -> list[StoredEvent]:
        """The campaign's committed events with a position above ``after``, by position, at
        most ``limit``. Positions grow in commit order: an event that commits later never
        has a lower position than one already read (the store orders appends so)."""

    # --- the audit's reads (verify, checkpoints, as-of) ------------------------------------
    def latest_checkpoint(self, campaign_id: str) -> StoredCheckpoint | None:
        """The campaign's checkpoint of the highest ``seq``, or ``None``."""

    def heads(self, campaign_id: str) -> list[tuple[str, int, str]]:
        """``(case_id, event_count, head_hash)`` of every case of the campaign, by case id
        (code points)."""

    def events_until(
        self, case_ids: Sequence[str], at: datetime, *, recorded: bool = False
    ) -> dict[str, list[StoredEvent]]:
        """The events of many cases that occurred at or before ``at`` (aware) -- with
        ``recorded``, that were recorded by then -- in chain order, keyed by case id."""

    def sealed_events(self, campaign_id: str, case_id: str | None = None) -> Iterator[SealedEvent]:
        """Every event of the campaign's cases (or of one case), in the order of the cases'
        ids as :meth:`cases` lists them and then in chain order, streamed by one query in
        bounded memory (consume it before the unit of work ends)."""

    def records_of(self, case_ids: Sequence[str]) -> dict[str, list[Record]]:
        """The records (evidence, findings, interviews, pledges, verifications) of many
        cases, keyed by case id, each kind in the order written (one query per kind).

        Raises:
            RowsUnreadable: some cases' records cannot be read (it carries the others').
        """

    # --- the ledger import's reads ------------------------------------------------------
    def ledger_apps(self, campaign_id: str) -> list[tuple[StoredApp, str]]:
        """Every app in the campaign's ledger with its case id, by case id (one query)."""

    # --- the webhook relay's reads (see appcase.workflow.relay) ---------------------------
    def relay_cursor(self, campaign_id: str, receiver: str) -> RelayCursor | None:
        """The relay cursor of a receiver in the campaign, or ``None`` before its first
        lease."""

    # --- API tokens (the HTTP server's callers) -------------------------------------------
    def token_by_digest(self, digest: str) -> StoredToken | None:
        """The token whose SHA-256 is ``digest`` (revoked and expired ones too), or ``None``."""

    def tokens(self, actor_id: str | None = None) -> list[StoredToken]:
        """Every token (of one actor, if given), by creation time then id."""

    # --- governance: the administrators' log, override grants ----------------------------
    def admin_acts(self, after: int = 0) -> list[StoredAdminAct]:
        """The administrators' log from ``seq`` ``after + 1`` on, in order."""

    def last_admin_act(self) -> StoredAdminAct | None:
        """The administrators' log's last entry, or ``None`` while it is empty."""

    def administrators(self) -> list[StoredActor]:
        """Every actor of the ``administrator`` role, by id."""

    def grant(self, grant_id: str) -> StoredGrant | None:
        """The override grant with this id, or ``None``."""

    def grants(self, case_id: str | None = None) -> list[StoredGrant]:
        """Every override grant (of one case, if given), by creation time then id."""


class CaseStore(Queries, Protocol):
    """What a command does in its transaction, beside the reads of :class:`Queries`."""

    case_id: str | None
    """The case being written, named by a :class:`~appcase.errors.ConcurrentModification`
    if the transaction loses a race (a survey sets it once it has a case number)."""

    def add_actor(self, actor: StoredActor, created_at: datetime) -> None:
        """Register an actor."""

    def find_app(self, campaign_id: str, uscc: str, name: str) -> StoredApp | None:
        """The campaign's ledger entry with this credit code and name, or ``None``."""

    def take_case_number(
        self, campaign_id: str, prefecture: str, case_id: Callable[[str, int], str]
    ) -> int:
        """Take the prefecture's next case number (1, 2, …) in this transaction.

        Numbers are given densely from 1, each survey taking the next;
        ``case_id(prefecture, number)`` names the case of a number (a store may find the
        highest number taken by the ids that exist). A store keeps the highest number given
        per prefecture, so that the cost does not grow with the number of cases; concurrent takers of one prefecture get
        distinct numbers or lose the race (:class:`~appcase.errors.ConcurrentModification`
        once they write the case)."""

    def claim_case_numbers(
        self, campaign_id: str, prefectures: Sequence[str], case_id: Callable[[str, int], str]
    ) -> dict[str, int]:
        """The highest case number given in each of ``prefectures``, brought up to the
        case ids that exist, and held for this transaction (a bulk survey then gives the
        numbers that follow and records them with :meth:`set_case_numbers`)."""

    def set_case_numbers(self, campaign_id: str, numbers: Mapping[str, int]) -> None:
        """Record the highest case number given per prefecture (prefectures claimed in
        this transaction)."""

    def ledger_identities(self, campaign_id: str) -> set[tuple[str, str]]:
        """``(uscc, name)`` of every app in the campaign's ledger."""

    def prior_judgments(
        self,
        *,
        uscc: str,
        name: str,
        icp_filing: str | None,
        before: datetime,
        dispositions: Sequence[str],
    ) -> int:
        """How many judgments with one of ``dispositions`` the same app (same name or ICP
        filing) or operator (same credit code) received before ``before``, in any campaign
        stored. Which dispositions count is the policy's rule (D3), not the store's."""

    def evidence_numbers(self, case_id: str) -> frozenset[int]:
        """Numbers of the case's evidence items."""

    def latest_interview(self, case_id: str) -> InterviewRecord | None:
        """The case's most recent interview record, or ``None``."""

    def latest_pledge(self, case_id: str) -> PledgeRecord | None:
        """The case's most recent pledge, or ``None``."""

    def add_app(self, app: StoredApp) -> int:
        """Write a ledger entry; returns its id."""

    def add_case(self, case: StoredCase) -> None:
        """Write a new case (``version`` as given)."""

    def save_case(self, case: StoredCase, read: StoredCase) -> None:
        """Write a command's changes of ``case`` (the fields of :data:`CASE_MOVED` that
        differ from ``read``) if the stored case is still at ``read.version``; then
        ``case.version`` is ``read.version + 1``.

        Raises:
            ConcurrentModification: the case moved on since it was read.
        """

    def save_moves(self, moves: Sequence[tuple[StoredCase, Any]]) -> bool:
        """Write many cases' changes as :meth:`save_case` does, from ``(read, after)``
        pairs (``after`` anything with the attributes :data:`CASE_MOVED` names), in one
        statement; ``False`` if any case had moved on (the caller then rolls back)."""

    def insert_events(
        self,
        shared: Mapping[str, Any],
        names: tuple[str, ...],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        """Append many events that share the columns ``shared`` (as :class:`StoredEvent`
        names them) and differ in the columns ``names`` (one tuple of values per event),
        in one statement."""

    def append_event(self, columns: dict[str, Any]) -> int:
        """Append one event (its columns as :class:`StoredEvent` names them, without
        ``position``); returns its position."""

    def append_events(
        self, rows: Sequence[dict[str, Any]], *, positions: bool = False
    ) -> list[int]:
        """Append many events in one statement; their positions if ``positions`` (else
        ``[]``)."""

    def add_records(self, records: Sequence[Record]) -> None:
        """Write an event's records."""

    def add_reporter(self, reporter: ReporterRecord) -> None:
        """Write a reporter's confidential details."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A block whose writes are undone, alone, if it raises (with the after-commit
        callbacks it registered)."""

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once the transaction has committed; never if it rolls back
        (or if the savepoint that registered it does)."""

    # --- the audit's writes --------------------------------------------------------------
    def lock_checkpoints(self) -> None:
        """Hold other checkpoints off until the transaction ends, so that two taken at once
        queue and the second follows the first (readers are not blocked)."""

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Write a checkpoint (append-only: it is never changed)."""

    # --- the webhook relay's writes (see appcase.workflow.relay) --------------------------
    def claim_relay_lease(
        self, campaign_id: str, receiver: str, owner: str, now: datetime, until: datetime
    ) -> RelayCursor | None:
        """Take or renew the receiver's lease for ``owner`` until ``until`` -- if no one
        holds it, ``owner`` already does, or its holder's lease ended at or before ``now``
        (compare-and-set; the cursor is created at position 0 on first use). Returns the
        cursor if ``owner`` now holds the lease, else ``None``."""

    def advance_relay_cursor(
        self, campaign_id: str, receiver: str, owner: str, position: int, now: datetime
    ) -> bool:
        """Move the cursor to ``position`` (one more event delivered) and clear its failure
        state, if ``owner`` holds the lease and the cursor is below ``position``."""

    def note_relay_failure(
        self,
        campaign_id: str,
        receiver: str,
        owner: str,
        since: datetime,
        error: str,
        now: datetime,
    ) -> bool:
        """Record that the receiver is failing (since ``since``, ``error`` the outcome of
        the attempt that failed at ``now``, one more failure), if ``owner`` holds the
        lease."""

    def release_relay_lease(self, campaign_id: str, receiver: str, owner: str) -> None:
        """Give the lease up, if ``owner`` holds it (another relay may take it at once)."""

    # --- API tokens -----------------------------------------------------------------------
    def add_token(self, token: StoredToken) -> None:
        """Store a new token (its digest, never the token)."""

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        """Mark a token revoked at ``at``; ``False`` if there is no such token or it was
        already revoked."""

    # --- governance -----------------------------------------------------------------------
    def add_admin_act(self, act: StoredAdminAct) -> None:
        """Append an entry to the administrators' log (its ``seq`` is the next one; a
        racing append with the same ``seq`` fails on the unique key)."""

    def add_grant(self, grant: StoredGrant) -> None:
        """Store a new override grant."""

    def revoke_grant(self, grant_id: str, by: str, at: datetime) -> bool:
        """Mark a grant revoked by ``by`` at ``at``; ``False`` if it is unknown, already
        revoked or used."""

    def use_grant(self, grant_id: str, by: str, at: datetime, position: int) -> bool:
        """Mark a grant used by ``by`` at ``at`` in the event at ``position``; ``False``
        if it is unknown, revoked or already used (another command used it meanwhile)."""


class Storage(Protocol):
    """Hands out units of work on one database."""

    def transaction(
        self, case_id: str | None = None, *, snapshot: bool = False
    ) -> AbstractContextManager[CaseStore]:
        """One database transaction: committed when the block ends, rolled back on any
        error.

        Raises:
            ConcurrentModification: a version check or a unique key lost a race; nothing
                was written, retrying is safe.
            DatabaseNotReady: the schema is missing.
            PersistenceError: any other database error.
        """

    def reading(self, *, snapshot: bool = False) -> AbstractContextManager[Queries]:
        """A read-only unit of work (rolled back at the end); ``snapshot`` reads one
        consistent snapshot throughout."""

    def close(self) -> None:
        """Release the database connections."""


def record_fields(record: object) -> dict[str, Any]:
    """The fields of one of this module's dataclasses, as a dict (for a store's writes)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}  # type: ignore[arg-type]


# --- the webhook relay's cursor (see appcase.workflow.relay) ------------------------------
@dataclass(frozen=True, slots=True)
class RelayCursor:
    """Where a webhook relay stands with one receiver of a campaign.

    Attributes:
        campaign_id / receiver: whose cursor it is.
        position: the last feed position the receiver acknowledged (0: none yet).
        delivered: how many events the receiver acknowledged in all.
        lease_owner / lease_until: the relay that may deliver, and until when (UTC).
        failing_since: the first failed attempt of the current run of failures, or ``None``.
        failures: the failed attempts since the last acknowledged delivery.
        last_error: the last failed attempt's outcome (``HTTP 503``, an exception's type).
        updated_at: when the row last changed (UTC).
    """

    campaign_id: str
    receiver: str
    position: int
    delivered: int
    lease_owner: str | None
    lease_until: datetime | None
    failing_since: datetime | None
    failures: int
    last_error: str | None
    updated_at: datetime
