"""A worker that surveys, fires and sweeps in a loop until it is killed, and its recovery.

It behaves like a careful client: before sending a command it appends the command and a
fresh idempotency key to a journal (one JSON object per line), and it marks the command done
when the reply comes back. A kill can land anywhere: before the command is sent, inside its
transaction, or after the commit but before the reply is read (a lost reply). The next
worker first calls :func:`recover`, which sends the pending command again with the same key
and records whether it had already been committed.

Journal lines: ``{"intent": key, "op": "fire"|"survey", ...}``, ``{"done": key, "case",
"seq", "hash", "recovered"?}``, ``{"sweep": [[case_id, status], ...]}``, ``{"error": tb}``.
"""

from __future__ import annotations

import json
import os
import random
import traceback
import uuid
from datetime import datetime
from multiprocessing.sharedctypes import SynchronizedArray
from multiprocessing.synchronize import Event as ReadyFlag
from pathlib import Path
from typing import Any

from appcase.workflow.engine import CaseEngine
from appcase.workflow.sweep import sweep
from tests.builders import USCC, local
from tests.integration.workers import open_worker_engine
from tests.integration.workers.steps import CAC, FINAL, SWEEP_AT, next_step

SWEEP_SHARE = 0.05
SURVEY_SHARE = 0.2
STARTED, FINISHED = 0, 1
"""Indexes of the shared counters: commands begun, commands finished."""


def write(journal: Path, entry: dict[str, Any]) -> None:
    """Append one line to the journal (one ``write`` call on an ``O_APPEND`` file)."""
    data = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read(journal: Path) -> list[dict[str, Any]]:
    """The journal's entries (a torn last line, from a kill during a write, is skipped)."""
    if not journal.exists():
        return []
    out = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _stored_hash(engine: CaseEngine, key: str) -> tuple[str, int, str] | None:
    with engine.storage.reading() as repo:
        row = repo.event_by_key(key)
        return None if row is None else (row.case_id, row.seq, row.hash)


def _send(engine: CaseEngine, entry: dict[str, Any]) -> tuple[str, int, str]:
    key, at = entry["intent"], datetime.fromisoformat(entry["at"])
    if entry["op"] == "survey":
        view = engine.survey(entry["app"], actor=entry["actor"], at=at, idempotency_key=key)
        first = engine.history(view.id)[0]
        return first.case_id, first.seq, first.hash
    ev = engine.fire(
        entry["case"],
        entry["event"],
        actor=entry["actor"],
        payload=entry["payload"],
        at=at,
        reason=entry["reason"],
        expected_version=entry["expected_version"],
        idempotency_key=key,
    )
    return ev.case_id, ev.seq, ev.hash


def recover(engine: CaseEngine, journal: Path) -> None:
    """Send every command of the journal that has no reply again, with its key.

    Raises:
        AssertionError: a retried command's event differs from the one already stored.
    """
    entries = read(journal)
    done = {e["done"] for e in entries if "done" in e}
    for entry in entries:
        if "intent" not in entry or entry["intent"] in done:
            continue
        stored = _stored_hash(engine, entry["intent"])
        got = _send(engine, entry)
        if stored is not None and stored != got:
            raise AssertionError(f"retry of {entry['intent']} gave {got}, stored {stored}")
        case_id, seq, digest = got
        write(
            journal,
            {
                "done": entry["intent"],
                "case": case_id,
                "seq": seq,
                "hash": digest,
                "recovered": "lost_reply" if stored is not None else "not_committed",
            },
        )


def _act(engine: CaseEngine, journal: Path, entry: dict[str, Any]) -> str:
    write(journal, entry)
    case_id, seq, digest = _send(engine, entry)
    write(journal, {"done": entry["intent"], "case": case_id, "seq": seq, "hash": digest})
    return case_id


def run(
    url: str, journal: Path, seed: int, ready: ReadyFlag, counters: SynchronizedArray[int]
) -> None:
    """Process entry point: recover, say ready, then work until killed.

    Exits with status 1 (after journaling the traceback) on any unexpected error: in this
    loop one worker runs at a time, so every command must succeed.
    """
    try:
        engine = open_worker_engine(url)
        recover(engine, journal)
        ready.set()
        rng = random.Random(seed)
        open_ids = [v.id for v in engine.list_cases() if v.state not in FINAL]
        made = 0
        entry: dict[str, Any]
        while True:
            counters[STARTED] += 1
            roll = rng.random()
            if roll < SWEEP_SHARE:
                outcomes = [[o.case_id, o.status] for o in sweep(engine, SWEEP_AT, batch_size=4)]
                bad = [o for o in outcomes if o[1] not in ("escalated", "unjudged")]
                if bad:
                    raise AssertionError(f"sweep outcomes {bad}")
                write(journal, {"sweep": outcomes})
            elif roll < SWEEP_SHARE + SURVEY_SHARE or not open_ids:
                made += 1
                prefecture = rng.choice(sorted(CAC))
                entry = {
                    "intent": f"s-{uuid.uuid4().hex}",
                    "op": "survey",
                    "app": {
                        "name": f"断电测试应用{seed}-{made}",
                        "operator": "长沙测试教育科技有限公司",
                        "uscc": USCC[made % len(USCC)],
                        "prefecture": prefecture,
                    },
                    "actor": CAC[prefecture],
                    "at": local(2, 20, 9).isoformat(),
                }
                open_ids.append(_act(engine, journal, entry))
            else:
                case_id = rng.choice(open_ids)
                view = engine.get(case_id)
                step = next_step(view, rectify=int(case_id[-4:]) % 2 == 0)
                if view.state in FINAL:
                    open_ids.remove(case_id)
                elif step is not None:
                    entry = {
                        "intent": f"f-{uuid.uuid4().hex}",
                        "op": "fire",
                        "case": case_id,
                        "event": step.event,
                        "actor": step.actor,
                        "payload": step.payload,
                        "at": step.at.isoformat(),
                        "reason": step.reason,
                        "expected_version": view.version,
                    }
                    _act(engine, journal, entry)
            counters[FINISHED] += 1
    except BaseException:
        write(journal, {"error": traceback.format_exc()})
        raise SystemExit(1) from None
