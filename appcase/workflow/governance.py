"""Who may hand out identities, and the record of every time they did.

Registering an actor and issuing or revoking an API token are an administrator's acts:
an actor of the built-in role ``administrator`` (:data:`~appcase.policies.permissions.ADMIN_ROLE`),
which fires no case event and authorises no override. Each such act appends one entry to
the administrators' log in the same transaction: who, what, when, hash-chained like a
case's events (``hash = sha256(canonical(record))``, each record naming the previous
entry's hash), in a table the database keeps append-only. :func:`check_admin_log` finds an
edited, deleted or inserted entry; ``appcase actor log`` and ``appcase audit verify``
run it.

Bootstrap: while the database holds no administrator, the first one may be registered
with no one acting (``appcase actor add ID --role administrator``); from then on every
registration names an administrator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from appcase.audit.canonical import canonical_bytes
from appcase.audit.records import GENESIS, format_instant
from appcase.errors import AuditFailure, NotAuthorised, UnknownActor
from appcase.policies.permissions import ADMIN_ROLE
from appcase.ports import CaseStore, Queries, Storage, StoredActor, StoredAdminAct
from appcase.workflow.damage import UNREADABLE_VALUES, reason

__all__ = [
    "ADMIN_ACTIONS",
    "AdminActView",
    "AdminLog",
    "act_hash",
    "check_actors",
    "check_admin_log",
    "read_admin_acts",
    "read_admin_log",
    "record_act",
    "require_administrator",
]

ADMIN_ACTIONS = ("actor.add", "token.issue", "token.revoke")
"""What the administrators' log records."""


class AdminActView(BaseModel):
    """An entry of the administrators' log.

    Attributes:
        seq: 1, 2, ... in order.
        recorded_at: when (UTC).
        actor: the administrator who did it.
        action: one of :data:`ADMIN_ACTIONS`.
        subject: the actor registered, or the token's id.
        detail: the role and jurisdiction registered; the token's actor and expiry.
        hash: the entry's hash (the next entry names it).
    """

    model_config = ConfigDict(frozen=True)

    seq: int
    recorded_at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    hash: str


class AdminLog(BaseModel):
    """The administrators' log, checked.

    Attributes:
        entries: every entry, in order.
        problems: what :func:`check_admin_log` found (empty: the chain is intact).
        ok: no problem.
    """

    model_config = ConfigDict(frozen=True)

    entries: list[AdminActView]
    problems: list[str]
    ok: bool


def act_hash(act: StoredAdminAct | Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an entry's canonical record: ``seq``, ``recorded_at`` (UTC,
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ``), ``actor``, ``action``, ``subject``, ``detail`` and
    ``prev_hash``.

    Args:
        act: a stored entry, or a mapping with those fields (``actor_id`` for the actor).

    Returns:
        64 lowercase hex digits.
    """
    get = act.get if isinstance(act, Mapping) else lambda name: getattr(act, name)
    record = {
        "seq": get("seq"),
        "recorded_at": format_instant(get("recorded_at")),
        "actor": get("actor_id"),
        "action": get("action"),
        "subject": get("subject"),
        "detail": get("detail"),
        "prev_hash": get("prev_hash"),
    }
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


def require_administrator(store: Queries, by: str | None, act: str) -> StoredActor | None:
    """The administrator doing ``act``, checked.

    Args:
        store: the unit of work.
        by: the acting officer's id, or ``None`` (allowed only to register the first
            administrator, which the caller checks with :meth:`Queries.administrators`).
        act: what is being done, for the message (``register an actor``).

    Returns:
        The administrator, or ``None`` when ``by`` is ``None``.

    Raises:
        UnknownActor: ``by`` is not registered.
        NotAuthorised: ``by`` is not an administrator.
    """
    if by is None:
        return None
    found = store.actor(by)
    if found is None:
        raise UnknownActor(by)
    if found.role != ADMIN_ROLE:
        raise NotAuthorised(
            f"{by} ({found.role}) may not {act}: that is an administrator's act",
            "ask an administrator (role administrator) to do it",
        )
    return found


def record_act(
    store: CaseStore,
    by: str,
    action: str,
    subject: str,
    detail: dict[str, Any],
    now: datetime,
) -> StoredAdminAct:
    """Append an entry to the administrators' log, chained to the last one, in
    ``store``'s transaction.

    Raises:
        ConcurrentModification / PersistenceError: another append took the same ``seq``
            meanwhile (PostgreSQL); nothing was written, retrying is safe.
    """
    last = store.last_admin_act()
    fields: dict[str, Any] = {
        "seq": last.seq + 1 if last is not None else 1,
        "recorded_at": now,
        "actor_id": by,
        "action": action,
        "subject": subject,
        "detail": detail,
        "prev_hash": last.hash if last is not None else GENESIS,
    }
    act = StoredAdminAct(**fields, hash=act_hash(fields))
    store.add_admin_act(act)
    return act


def check_admin_log(acts: Iterable[StoredAdminAct]) -> list[str]:
    """Every break in the administrators' log: an entry whose hash is not its record's
    (edited), whose ``prev_hash`` is not the previous entry's hash, or a gap in ``seq``
    (deleted or inserted).

    Returns:
        One sentence per problem, naming the entry; empty if the chain is intact.
    """
    problems: list[str] = []
    prev, expected = GENESIS, 1
    for act in acts:
        if act.seq != expected:
            problems.append(f"admin log entry {act.seq}: expected entry {expected} (deleted?)")
        if act_hash(act) != act.hash:
            problems.append(f"admin log entry {act.seq}: its record does not match its hash")
        if act.prev_hash != prev:
            problems.append(f"admin log entry {act.seq}: does not follow the previous entry")
        prev, expected = act.hash, act.seq + 1
    return problems


def check_actors(acts: Iterable[StoredAdminAct], actors: Iterable[StoredActor]) -> list[str]:
    """Every registered actor whose role or jurisdiction is not what the administrators'
    log recorded when it was registered (its ``actor.add`` entry): an actor changed in the
    database by hand, e.g. made an administrator. An actor without an entry (registered
    before the log existed, migration 0009) is not checked.

    Returns:
        One sentence per such actor, naming it; empty if every actor agrees with the log.
    """
    logged: dict[str, tuple[Any, Any]] = {}
    for act in acts:
        if act.action == "actor.add" and isinstance(act.detail, Mapping):
            logged.setdefault(act.subject, (act.detail.get("role"), act.detail.get("jurisdiction")))
    problems: list[str] = []
    for actor in actors:
        entry = logged.get(actor.id)
        if entry is not None and entry != (actor.role, actor.jurisdiction):
            problems.append(
                f"actor {actor.id} is stored as {actor.role} in {actor.jurisdiction}, but the "
                f"log registered it as {entry[0]} in {entry[1]} (changed outside appcase)"
            )
    return problems


def read_admin_acts(store: Queries) -> tuple[list[StoredAdminAct], list[str]]:
    """The administrators' log's entries and the registered actors, checked.

    Returns:
        ``(entries, problems)``: the problems of :func:`check_admin_log` and
        :func:`check_actors`, or, when a row of the log cannot be decoded (a value stored
        outside appcase: an invalid instant, invalid or over-deep JSON), no entries and
        that one problem.
    """
    try:
        acts = store.admin_acts()
    except UNREADABLE_VALUES as exc:
        return [], [f"the administrators' log cannot be read: {reason(exc)}"]
    return acts, check_admin_log(acts) + check_actors(acts, store.actors())


def read_admin_log(storage: Storage) -> AdminLog:
    """The administrators' log, every entry, checked by :func:`check_admin_log` and
    :func:`check_actors`.

    Raises:
        AuditFailure: a row of the log cannot be read (``admin_log``).
    """
    with storage.reading() as store:
        acts, problems = read_admin_acts(store)
    if not acts and problems:
        raise AuditFailure([("", None, "admin_log", p) for p in problems])
    views = [
        AdminActView(
            seq=a.seq,
            recorded_at=a.recorded_at,
            actor=a.actor_id,
            action=a.action,
            subject=a.subject,
            detail=a.detail,
            hash=a.hash,
        )
        for a in acts
    ]
    return AdminLog(entries=views, problems=problems, ok=not problems)
