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
from typing import Any

try:
    from appcase.audit.records import GENESIS
except ImportError:  # pragma: no cover - copied beside records.py, outside appcase
    from records import GENESIS  # type: ignore[import-not-found,no-redef]

__all__ = ["CaseFold", "FoldError", "Transitions", "fold", "replay", "start"]

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
        super().__init__(f"event #{seq}: {detail}")


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


@dataclass(frozen=True, slots=True)
class CaseFold:
    """The case fields its chain determines.

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
    raise FoldError(seq, f"{name} {str(value)[:40]!r} is not an instant with an offset")


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
        raise FoldError(seq, f"unknown event {str(event)[:40]!r}")
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
            f"{event} {str(record.get('from'))[:40]}→{str(record.get('to'))[:40]} does not "
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
            raise FoldError(seq, f"pledge deadline {str(text)[:40]!r} is not a date")
    due = None
    if zone is not None and state == PLEDGED and deadline is not None:
        due = datetime.combine(deadline + timedelta(days=1), time.min, tzinfo=zone)
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
