"""SQLAlchemy 2 models: the tables of appcase.

The schema is created and changed only by the Alembic migrations in
``appcase/persistence/migrations``; a test checks that these models and the migrated
schema agree. All instants are stored in UTC and come back timezone-aware (UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from appcase.clock import ensure_aware

__all__ = [
    "ActorRow",
    "AdminActRow",
    "AppRow",
    "Base",
    "CampaignRow",
    "CaseNumberRow",
    "CaseRow",
    "CheckpointRow",
    "EventRow",
    "EvidenceRow",
    "FindingRow",
    "GrantRow",
    "InterviewRow",
    "PledgeRow",
    "RelayCursorRow",
    "ReporterRow",
    "TokenRow",
    "UTCDateTime",
    "VerificationRow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware instant, stored in UTC (``timestamptz`` on PostgreSQL, text on SQLite).

    Binding a naive datetime raises :class:`~appcase.errors.NaiveDatetimeError`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value if value.tzinfo is UTC else ensure_aware(value).astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention for constraints."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it once
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class CampaignRow(Base):
    """A campaign loaded into this database (its validated file, as canonical JSON)."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    document_number: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    definition: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime]


class ActorRow(Base):
    """An officer (or the system) who can act: an id with a role and a jurisdiction."""

    __tablename__ = "actors"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(64))
    jurisdiction: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class AppRow(Base):
    """An app in a campaign's ledger (管理台账)."""

    __tablename__ = "apps"
    __table_args__ = (UniqueConstraint("campaign_id", "uscc", "name", name="uq_apps_identity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    operator: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    icp_filing: Mapped[str | None] = mapped_column(String(64), index=True)
    platforms: Mapped[list[Any]]
    target_users: Mapped[str] = mapped_column(String(200), default="")
    used_by_schools: Mapped[bool] = mapped_column(Boolean, default=False)
    prefecture: Mapped[str] = mapped_column(String(6))


class CaseRow(Base):
    """A case: one app in one campaign, on two tracks.

    ``state`` and ``judicial_state`` are set only by the state machine; ``version`` is
    checked on every update (optimistic concurrency); ``head_hash`` is the hash of the
    last event of the case's chain. The other columns are projections of the events, kept
    for queries and the sweep.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_sweep", "campaign_id", "state", "pledge_due_at"),
        Index("ix_cases_keyset", "campaign_id", "state", "id"),
        Index("ix_cases_prefecture", "campaign_id", "prefecture", "state", "id"),
        Index("ix_cases_campaign", "campaign_id", "id"),
        Index("ix_cases_judicial", "campaign_id", "judicial_state", "id"),
        Index("ix_cases_last_event", "campaign_id", "last_occurred_at", "id"),
        Index("ix_cases_prefecture_id", "campaign_id", "prefecture", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"), unique=True)
    prefecture: Mapped[str] = mapped_column(String(6))
    state: Mapped[str] = mapped_column(String(32))
    judicial_state: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))
    disposition: Mapped[str | None] = mapped_column(String(32))
    suspected_illegal: Mapped[bool] = mapped_column(Boolean, default=False)
    flagged_at: Mapped[datetime | None]
    pledge_deadline: Mapped[date | None] = mapped_column(Date)
    pledge_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_occurred_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseNumberRow(Base):
    """The highest case number given in one prefecture of a campaign.

    A survey takes ``last_number + 1`` by updating this row in its own transaction, so
    that finding the next number costs one keyed statement however many cases the
    prefecture has (counting them, or probing the ids, grows with the base). Case numbers
    stay dense from 1: the row moves only with a case written in the same transaction. A
    missing row is rebuilt from the ids that exist; a row found behind (a case id already
    taken) is brought up to them on the survey's retry (:mod:`appcase.persistence.repository`).
    """

    __tablename__ = "case_numbers"

    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    prefecture: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger)


class EventRow(Base):
    """One appended event of a case's history; append-only (database triggers refuse
    UPDATE and DELETE) and hash-chained per case. ``canonical`` holds the bytes ``hash``
    was taken over (``NULL`` for an event written before 0008 whose stored hash its
    columns did not give)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    track: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(64))
    jurisdiction: Mapped[str] = mapped_column(String(6))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    reason: Mapped[str | None] = mapped_column(Text)
    override: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    canonical: Mapped[bytes | None] = mapped_column(LargeBinary)


class _Record:
    """Columns shared by every record table: the case and the event that wrote it."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))


class EvidenceRow(_Record, Base):
    """An evidence item (取证), numbered 1, 2, … per case."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("case_id", "number", name="uq_evidence_case_number"),)

    number: Mapped[int] = mapped_column(Integer)
    harm_category: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    locator: Mapped[str] = mapped_column(Text, default="")
    captured_at: Mapped[datetime | None]
    attachment_sha256: Mapped[str | None] = mapped_column(String(64))
    reporter_ref: Mapped[str | None] = mapped_column(String(40))


class ReporterRow(Base):
    """A hotline reporter's personal details (举报人), kept apart from the case history.

    The evidence event carries only ``ref``; this table is never exported or printed.
    """

    __tablename__ = "reporters"

    ref: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class FindingRow(_Record, Base):
    """A finding of a judgment (研判)."""

    __tablename__ = "findings"

    harm_category: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    suspected_illegal: Mapped[bool] = mapped_column(Boolean)
    evidence_refs: Mapped[list[Any]]
    note: Mapped[str] = mapped_column(Text, default="")


class InterviewRow(_Record, Base):
    """An interview record (约谈记录)."""

    __tablename__ = "interviews"

    notice_given_at: Mapped[datetime]
    held_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(500))
    officers: Mapped[list[Any]]
    operator_representatives: Mapped[list[Any]]
    problems: Mapped[list[Any]]
    rectification_deadline: Mapped[date] = mapped_column(Date)


class PledgeRow(_Record, Base):
    """A signed rectification pledge (整改承诺书)."""

    __tablename__ = "pledges"

    signed_by: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime]
    commitments: Mapped[list[Any]]
    deadline: Mapped[date] = mapped_column(Date)


class VerificationRow(_Record, Base):
    """A verification of a rectification: one check per pledged commitment."""

    __tablename__ = "verifications"

    checks: Mapped[list[Any]]
    all_verified: Mapped[bool] = mapped_column(Boolean)


class CheckpointRow(Base):
    """A checkpoint of the whole campaign: every case's head at an instant, chained to the
    previous checkpoint and optionally signed; append-only (triggers refuse UPDATE and
    DELETE). See :mod:`appcase.audit.checkpoints` for the digest's exact input.

    Attributes:
        seq: 1, 2, ... within the campaign.
        created_at: when it was taken (UTC).
        campaign_digest: SHA-256 of the campaign file in force (canonical JSON).
        heads: ``[case_id, events, head]`` per case, sorted by case id.
        heads_digest / prev_digest / digest: see :mod:`appcase.audit.checkpoints`.
        signature_alg: ``ed25519``, ``hmac-sha256`` or ``None`` (unsigned).
        key_id: which key signed (see :mod:`appcase.audit.keys`).
        signature: the signature, hex.
    """

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("campaign_id", "seq", name="uq_checkpoints_campaign_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    campaign_digest: Mapped[str] = mapped_column(String(64))
    case_count: Mapped[int] = mapped_column(Integer)
    event_count: Mapped[int] = mapped_column(Integer)
    heads: Mapped[list[Any]]
    heads_digest: Mapped[str] = mapped_column(String(64))
    prev_digest: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    signature_alg: Mapped[str | None] = mapped_column(String(16))
    key_id: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(256))


class RelayCursorRow(Base):
    """A webhook relay's place in a campaign's feed, per receiver, and its lease.

    ``position`` is the last feed position the receiver acknowledged (2xx); it only grows.
    The lease (``lease_owner`` until ``lease_until``) lets one relay at a time deliver to
    the receiver: it is taken and renewed by compare-and-set (see
    :mod:`appcase.persistence.relay_queries`). ``failing_since`` and ``last_error`` show a
    receiver that keeps failing (cleared by the next acknowledged delivery).
    """

    __tablename__ = "relay_cursors"

    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    receiver: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    delivered: Mapped[int] = mapped_column(BigInteger)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class TokenRow(Base):
    """An API token of one actor (``appcase actor token create``): only its SHA-256 is
    stored, with its expiry and, once revoked, when."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AdminActRow(Base):
    """An entry of the administrators' log (``appcase actor log``): an actor registered, a
    token issued or revoked. Append-only (database triggers refuse UPDATE and DELETE) and
    hash-chained by ``seq``."""

    __tablename__ = "admin_acts"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class GrantRow(Base):
    """An override grant (``appcase override grant``): an officer's consent that one
    command may act after its window closed, until it expires, is revoked or is used."""

    __tablename__ = "override_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    prefecture: Mapped[str] = mapped_column(String(6))
    event: Mapped[str] = mapped_column(String(32))
    authoriser_id: Mapped[str] = mapped_column(ForeignKey("actors.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(64))
    used_position: Mapped[int | None] = mapped_column(BigInteger)
