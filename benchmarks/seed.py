"""Seed many cases fast, with valid hash chains, exactly as the engine would write them.

One *template* case is driven through the real engine (``survey`` and the given steps);
its rows in every table are read back and copied ``count`` times with Core bulk inserts.
A copy differs from the template only where a different case must: its ids (case, app,
events, records), its app's name, operator and credit code (unique per app; they are also
inside the ``survey`` event's payload) and therefore every event hash and the bytes it is
taken over, recomputed with :func:`appcase.audit.records.record_bytes` along the copy's
chain. Everything else --
states, versions, projections, timestamps, payloads -- is the engine's own output.
:func:`check_sample` runs :func:`appcase.verify` on a sample of the copies.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, func, insert, select, text
from sqlalchemy.engine import make_url

from appcase.audit.records import GENESIS, format_instant, record_bytes, seal_bytes
from appcase.bootstrap import init_database, open_engine
from appcase.persistence.models import (
    AppRow,
    CaseRow,
    EventRow,
    EvidenceRow,
    FindingRow,
    InterviewRow,
    PledgeRow,
    ReporterRow,
    VerificationRow,
)
from appcase.workflow.engine import CaseEngine
from appcase.workflow.verify import verify
from benchmarks import lifecycle

APPS: Table = AppRow.__table__  # type: ignore[assignment]
CASES: Table = CaseRow.__table__  # type: ignore[assignment]
EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
RECORDS: tuple[Table, ...] = tuple(
    t.__table__  # type: ignore[misc]
    for t in (EvidenceRow, FindingRow, InterviewRow, PledgeRow, VerificationRow)
)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def new_engine(url: str) -> CaseEngine:
    """Initialise (migrate, load Hunan 2018) and register the benchmark actors."""
    engine = init_database(url, "hunan-2018", lifecycle.clock())
    lifecycle.register_actors(engine)
    return engine


def reopen(url: str) -> CaseEngine:
    """Open an already initialised database with the benchmark clock."""
    return open_engine(url, "hunan-2018", lifecycle.clock())


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL server at ``base_url``; dropped afterwards.

    Yields:
        A URL whose connections use the schema (``search_path``).
    """
    import psycopg

    schema = f"appcase_bench_{uuid.uuid4().hex[:12]}"
    base = make_url(base_url)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = base.set(
        drivername="postgresql+psycopg", query={**base.query, "options": f"-csearch_path={schema}"}
    ).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def postgres_unavailable(url: str | None) -> str | None:
    """Why PostgreSQL cannot be used at ``url`` (``None`` if it can)."""
    if not url:
        return "no PostgreSQL URL given"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:  # any failure to connect means: no server here
        return f"no PostgreSQL server answers at {url}: {exc}"
    return None


@dataclass
class _Template:
    app: dict[str, Any]
    case: dict[str, Any]
    events: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]]


def _read_template(db: Engine, case_id: str) -> _Template:
    with db.connect() as conn:
        case = dict(conn.execute(select(CASES).where(CASES.c.id == case_id)).mappings().one())
        app = dict(conn.execute(select(APPS).where(APPS.c.id == case["app_id"])).mappings().one())
        events = [
            dict(r)
            for r in conn.execute(
                select(EVENTS).where(EVENTS.c.case_id == case_id).order_by(EVENTS.c.seq)
            ).mappings()
        ]
        records = {
            t.name: [
                dict(r)
                for r in conn.execute(
                    select(t).where(t.c.case_id == case_id).order_by(t.c.id)
                ).mappings()
            ]
            for t in RECORDS
        }
        reporters = conn.execute(
            select(func.count()).select_from(ReporterRow).where(ReporterRow.case_id == case_id)
        ).scalar_one()
    assert reporters == 0, "the template must not carry hotline reporters"
    return _Template(app, case, events, records)


def _next_ids(db: Engine) -> dict[str, int]:
    with db.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.max(t.c.id))).scalar() or 0) + 1
            for t in (APPS, EVENTS, *RECORDS)
        }


def seal_event(case_id: str, ev: dict[str, Any], prev: str) -> str:
    """Make the ``events`` row ``ev`` (its columns, as read with Core) the event of
    ``case_id`` that follows ``prev``: set its ``case_id``, ``prev_hash``, ``hash`` and the
    bytes the hash is taken over (:func:`appcase.audit.records.seal_bytes`) in place;
    return the hash."""
    ev["case_id"] = case_id
    ev["prev_hash"] = prev
    record = {
        "case_id": case_id,
        "seq": ev["seq"],
        "track": ev["track"],
        "event": ev["event"],
        "from": ev["from_state"],
        "to": ev["to_state"],
        "actor": ev["actor_id"],
        "role": ev["role"],
        "jurisdiction": ev["jurisdiction"],
        "occurred_at": format_instant(ev["occurred_at"]),
        "recorded_at": format_instant(ev["recorded_at"]),
        "payload": ev["payload"],
        "reason": ev["reason"],
        "override": ev["override"],
        "prev_hash": prev,
    }
    seal_bytes(ev, record_bytes(record))
    return str(ev["hash"])


def _chain(case_id: str, events: list[dict[str, Any]]) -> str:
    """Recompute ``prev_hash``/``hash`` of ``events`` (in place) for ``case_id``; return head."""
    prev = GENESIS
    for ev in events:
        prev = seal_event(case_id, ev, prev)
    return prev


def seed(
    engine: CaseEngine,
    steps: tuple[lifecycle.Step, ...],
    count: int,
    *,
    first_app: int = 1_000_000,
    chunk: int = 5000,
) -> list[str]:
    """Write ``count`` copies of a case driven through ``steps``; return their ids.

    Args:
        engine: an initialised engine with the benchmark actors.
        steps: the steps after ``survey`` of the template case.
        count: how many copies (the template itself is a further, ordinary case).
        first_app: the app number of the template (copies follow it); pick a range that no
            other seeding on the same database uses.
        chunk: cases per insert transaction.

    Returns:
        The ids of the copies, in order.
    """
    template_id = lifecycle.run_lifecycle(engine, first_app, steps)
    db = engine.storage.engine
    tpl = _read_template(db, template_id)
    prefix, prefecture, number = template_id.rsplit("-", 2)
    with db.connect() as conn:
        taken = conn.execute(
            select(func.count()).select_from(CASES).where(CASES.c.prefecture == prefecture)
        ).scalar_one()
    assert int(number) == taken, "the template must be the newest case of its prefecture"
    ids = _next_ids(db)
    made: list[str] = []
    for start in range(0, count, chunk):
        apps, cases, events = [], [], []
        records: dict[str, list[dict[str, Any]]] = {t.name: [] for t in RECORDS}
        for i in range(start, min(count, start + chunk)):
            n = first_app + 1 + i
            case_id = f"{prefix}-{prefecture}-{taken + 1 + i:04d}"
            app_id = ids["apps"]
            ids["apps"] += 1
            ident = {k: lifecycle.app(n)[k] for k in ("name", "operator", "uscc")}
            apps.append({**tpl.app, "id": app_id, **ident})
            evs = []
            remap: dict[int, int] = {}
            for ev in tpl.events:
                copy = {**ev, "id": ids["events"]}
                remap[ev["id"]] = ids["events"]
                ids["events"] += 1
                if ev["event"] == "survey":
                    copy["payload"] = {**ev["payload"], "app": {**ev["payload"]["app"], **ident}}
                evs.append(copy)
            head = _chain(case_id, evs)
            events.extend(evs)
            cases.append({**tpl.case, "id": case_id, "app_id": app_id, "head_hash": head})
            for t in RECORDS:
                for rec in tpl.records[t.name]:
                    records[t.name].append(
                        {
                            **rec,
                            "id": ids[t.name],
                            "case_id": case_id,
                            "event_id": remap[rec["event_id"]],
                        }
                    )
                    ids[t.name] += 1
            made.append(case_id)
        with db.begin() as conn:
            conn.execute(insert(APPS), apps)
            conn.execute(insert(CASES), cases)
            conn.execute(insert(EVENTS), events)
            for t in RECORDS:
                if records[t.name]:
                    conn.execute(insert(t), records[t.name])
    if db.dialect.name == "postgresql":
        with db.begin() as conn:
            for t in (APPS, EVENTS, *RECORDS):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
                        f"(SELECT max(id) FROM {t.name}))"
                    )
                )
    return made


def check_sample(engine: CaseEngine, case_ids: list[str], k: int = 20) -> None:
    """Run :func:`appcase.verify` on ``k`` cases spread over ``case_ids`` (first and last
    included).

    Raises:
        AssertionError: naming the first case that does not verify.
    """
    if not case_ids:
        return
    rng = random.Random(7)
    sample = {case_ids[0], case_ids[-1], *rng.sample(case_ids, min(k, len(case_ids)))}
    for cid in sorted(sample):
        report = verify(engine, cid)
        assert report.ok, f"seeded case {cid} does not verify: {report.problems}"


def checkpoint(path: Path) -> None:
    """Fold a SQLite file's WAL into it, so that copying the file copies the database."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def copy_db(src: Path, dst: Path) -> Path:
    """Copy a checkpointed SQLite file (and drop a stale WAL beside the copy)."""
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{dst}{suffix}")
    shutil.copyfile(src, dst)
    return dst
