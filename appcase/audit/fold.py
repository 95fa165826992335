"""THE fold: how one event changes a case. The engine folds each event it writes into the
case it stores, and replay, as-of, ``verify`` and the offline bundle verifier fold the
stored events to rebuild the case -- with this one function, so that they cannot drift.

An event record (the hashed record of :mod:`appcase.audit.records`) moves its track's state
from ``from`` to ``to``, which must be a transition of the campaign's table
(:class:`Transitions`); besides:

* ``survey`` sets the app's identity and prefecture (its ``payload.app``);
* ``flag`` sets ``flagged_at`` (the event's instant);
* ``judge`` sets the disposition (``payload.disposition``) and the referral flag
  (``payload.policy.refer``);
* ``pledge`` sets the rectification deadline (``payload.deadline``, a local date);
* while the case is ``pledged``, ``pledge_due_at`` is local midnight after that deadline in
  the campaign's zone (when the sweep finds it overdue), else nothing;
* every event sets the chain's length and head, the last instant it happened
  (``occurred_at``) and when the case was last written (``recorded_at``).

Standard library only: an auditor runs it from copied files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple

try:
    from appcase.audit.canonical import shown
    from appcase.audit.records import GENESIS, format_instant
except ImportError:  # pragma: no cover - copied beside records.py, outside appcase
    from canonical import shown  # type: ignore[import-not-found,no-redef]
    from records import GENESIS, format_instant  # type: ignore[import-not-found,no-redef]

__all__ = ["CaseFold", "FoldError", "Transitions", "differences", "fold", "replay", "start"]

PLEDGED = "pledged"
"""The administrative state in which a pledge's deadline runs."""


class FoldError(ValueError):
    """An event that does not follow from the case before it.

    Attributes:
        seq: the event's position in its chain (as the record gives it).
        detail: what is wrong, in words.
    """

    def __init__(self, seq: object, detail: str) -> None:
        self.seq = seq
        self.detail = detail
        super().__init__(f"event #{seq if isinstance(seq, int) else shown(seq)}: {detail}")


@dataclass(frozen=True, slots=True)
class Transitions:
    """A transition table as data: the initial state of each track and, per event, its
    track, the states it may fire from and the state it leads to.

    Attributes:
        initial: ``{"administrative": state, "judicial": state}``.
        rows: ``{event: (track, sources, dest)}``.
    """

    initial: Mapping[str, str]
    rows: Mapping[str, tuple[str, frozenset[str], str]]

    @classmethod
    def from_table(cls, table: object) -> Transitions:
        """Read the JSON form written to bundles and campaign descriptions.

        Args:
            table: ``{"initial": {"administrative": str, "judicial": str}, "rows":
                [{"event": str, "track": str, "sources": [str, ...], "dest": str}, ...]}``.

        Raises:
            ValueError: the table is not of that shape (naming what is wrong).
        """
        if not isinstance(table, Mapping):
            raise ValueError("the transition table is not an object")
        initial = table.get("initial")
        rows = table.get("rows")
        if not isinstance(initial, Mapping) or not all(
            isinstance(initial.get(t), str) for t in ("administrative", "judicial")
        ):
            raise ValueError("the transition table's 'initial' is not two track states")
        if not isinstance(rows, list):
            raise ValueError("the transition table's 'rows' is not a list")
        out: dict[str, tuple[str, frozenset[str], str]] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise ValueError(f"transition row {i} is not an object")
            event, track, sources, dest = (
                row.get("event"),
                row.get("track"),
                row.get("sources"),
                row.get("dest"),
            )
            if (
                not isinstance(event, str)
                or track not in ("administrative", "judicial")
                or not isinstance(dest, str)
                or not isinstance(sources, list)
                or not all(isinstance(s, str) for s in sources)
            ):
                raise ValueError(f"transition row {i} is not an event, track, sources, dest")
            assert isinstance(track, str)
            out[event] = (track, frozenset(sources), dest)
        return cls(
            initial={"administrative": initial["administrative"], "judicial": initial["judicial"]},
            rows=out,
        )


class CaseFold(NamedTuple):
    """The case fields its chain determines (an immutable tuple, cheap to make: the engine
    folds one per command).

    Attributes:
        state / judicial_state: both tracks.
        event_count / head_hash: length and head of the chain folded so far.
        prefecture / app: from the survey (the app's identity as JSON); ``None`` before.
        disposition / suspected_illegal: the latest judgment's.
        flagged_at: the latest flag's instant (aware, UTC).
        pledge_deadline: the latest pledge's deadline (local date of the campaign).
        pledge_due_at: while pledged, local midnight after that deadline (aware).
        last_occurred_at / updated_at: the last event's ``occurred_at`` and
            ``recorded_at`` (aware, UTC); ``None`` before any event.
    """

    state: str
    judicial_state: str
    event_count: int = 0
    head_hash: str = GENESIS
    prefecture: Any = None
    app: Any = None
    disposition: Any = None
    suspected_illegal: bool = False
    flagged_at: datetime | None = None
    pledge_deadline: date | None = None
    pledge_due_at: datetime | None = None
    last_occurred_at: datetime | None = None
    updated_at: datetime | None = None


def start(transitions: Transitions) -> CaseFold:
    """The case before its first event: both tracks in their initial states."""
    return CaseFold(transitions.initial["administrative"], transitions.initial["judicial"])


def _instant(value: object, seq: object, name: str) -> datetime:
    if isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    raise FoldError(seq, f"{name} {shown(value)} is not an instant with an offset")


def fold(
    case: CaseFold,
    record: Mapping[str, Any],
    hash: str,
    transitions: Transitions,
    zone: tzinfo | None = None,
) -> CaseFold:
    """Fold one event into a case.

    Args:
        case: the case before the event.
        record: the event's hashed record (keys of
            :data:`appcase.audit.records.HASHED_FIELDS`).
        hash: the event's hash (the new head).
        transitions: the campaign's transition table.
        zone: the campaign's time zone, for ``pledge_due_at`` (``None``: not computed).

    Returns:
        The case after the event.

    Raises:
        FoldError: the event is unknown, is not a transition out of the case's state on
            its track, leads elsewhere than the table says, or holds an unreadable instant
            or deadline.
    """
    seq = record.get("seq")
    event = record.get("event")
    row = transitions.rows.get(event) if isinstance(event, str) else None
    if row is None:
        raise FoldError(seq, f"unknown event {shown(event)}")
    track, sources, dest = row
    current = case.judicial_state if track == "judicial" else case.state
    if (
        current not in sources
        or record.get("from") != current
        or record.get("to") != dest
        or record.get("track") != track
    ):
        raise FoldError(
            seq,
            f"{event} {shown(record.get('from'))}→{shown(record.get('to'))} does not "
            f"follow from {current}",
        )
    state, judicial = (case.state, dest) if track == "judicial" else (dest, case.judicial_state)
    payload = record.get("payload")
    if not isinstance(payload, Mapping):
        payload = {}
    prefecture, app = case.prefecture, case.app
    disposition, illegal = case.disposition, case.suspected_illegal
    flagged_at, deadline = case.flagged_at, case.pledge_deadline
    occurred = _instant(record.get("occurred_at"), seq, "occurred_at")
    recorded = _instant(record.get("recorded_at"), seq, "recorded_at")
    if event == "survey":
        app = payload.get("app")
        prefecture = app.get("prefecture") if isinstance(app, Mapping) else None
    elif event == "flag":
        flagged_at = occurred
    elif event == "judge":
        disposition = payload.get("disposition")
        policy = payload.get("policy")
        illegal = bool(isinstance(policy, Mapping) and policy.get("refer"))
    elif event == "pledge" and payload.get("deadline") is not None:
        text = payload["deadline"]
        try:
            deadline = date.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            deadline = None
        if deadline is None:
            raise FoldError(seq, f"pledge deadline {shown(text)} is not a date")
    due = None
    if zone is not None and state == PLEDGED and deadline is not None:
        try:
            due = datetime.combine(deadline + timedelta(days=1), time.min, tzinfo=zone)
        except OverflowError:
            raise FoldError(
                seq, f"pledge deadline {deadline} is the last day of the calendar"
            ) from None
    count = seq if isinstance(seq, int) and not isinstance(seq, bool) else case.event_count + 1
    return CaseFold(
        state,
        judicial,
        count,
        hash,
        prefecture,
        app,
        disposition,
        illegal,
        flagged_at,
        deadline,
        due,
        occurred,
        recorded,
    )


def replay(
    events: Iterable[tuple[Mapping[str, Any], str]],
    transitions: Transitions,
    zone: tzinfo | None = None,
) -> tuple[CaseFold, FoldError | None]:
    """Fold a case's events from the start.

    Args:
        events: ``(hashed record, hash)`` per event, in chain order.
        transitions: the campaign's transition table.
        zone: the campaign's time zone (for ``pledge_due_at``).

    Returns:
        The case as far as the events follow, and the first event that does not (or
        ``None``).
    """
    case = start(transitions)
    for record, hash in events:
        try:
            case = fold(case, record, hash, transitions, zone)
        except FoldError as exc:
            return case, exc
    return case, None


REPLAYED_FIELDS = (
    "state",
    "judicial_state",
    "event_count",
    "head_hash",
    "disposition",
    "suspected_illegal",
    "pledge_deadline",
    "last_occurred_at",
    "updated_at",
)
"""Fields :func:`differences` describes as ``replay gives X, the case stores Y``."""

PROJECTED_FIELDS = ("prefecture", "app", "flagged_at")
"""Fields :func:`differences` describes as ``the events give X, the case stores Y``, as
JSON values (an app key by key)."""

_ORDER = (*REPLAYED_FIELDS[:-1], *PROJECTED_FIELDS, "pledge_due_at", "updated_at")


def _json(value: Any) -> Any:
    """A value as the hashed records and bundles write it (instants in UTC, dates ISO)."""
    if isinstance(value, datetime):
        return format_instant(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _shown(value: Any, like: Any) -> Any:
    """A replayed value for a message, written as the stored value it differs from is."""
    return _json(value) if isinstance(like, str) else value


def differences(case: CaseFold, stored: Mapping[str, Any]) -> list[str]:
    """Describe every field a case stores that differs from what its events give.

    Only the fields present in ``stored`` are compared, so a caller states what it holds
    (a bundle's cases.jsonl, say, has no ``flagged_at``). Values compare as JSON: a stored
    instant (an aware datetime, or text as :func:`~appcase.audit.records.format_instant`
    writes it) equals the replayed one at the same instant, a date equals its ISO text.

    Args:
        case: the case as its events give it (:func:`replay`).
        stored: field name (of :class:`CaseFold`) to the value the case stores.

    Returns:
        One line per difference, tracks first (``updated_at`` last):
        ``state: replay gives X, the case stores Y`` for the tracks, counters and the
        judgment's fields; ``prefecture: the events give 'X', the case stores 'Y'`` (as
        JSON) for what the survey and the flag set, an app key by key (``app.name: ...``);
        ``pledge_due_at: the pledge gives X, the case stores Y``.
    """
    out: list[str] = []
    for name in _ORDER:
        if name not in stored:
            continue
        want, have = getattr(case, name), stored[name]
        if _json(want) == _json(have):
            continue
        if name in PROJECTED_FIELDS:
            want, have = _json(want), _json(have)
            if isinstance(want, Mapping) and isinstance(have, Mapping):
                for key in sorted(set(want) | set(have)):
                    if want.get(key) != have.get(key):
                        out.append(
                            f"{name}.{key}: the events give {want.get(key)!r}, "
                            f"the case stores {have.get(key)!r}"
                        )
            else:
                out.append(f"{name}: the events give {want!r}, the case stores {have!r}")
        elif name == "pledge_due_at":
            out.append(
                f"pledge_due_at: the pledge gives {_shown(want, have)}, the case stores {have}"
            )
        else:
            out.append(f"{name}: replay gives {_shown(want, have)}, the case stores {have}")
    return out
