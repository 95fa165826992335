"""The audit chain on SQLite and PostgreSQL: append-only tables, tampering named, the
checkpoints' chain and signatures, and the canonical encoding against RFC 8785."""

from __future__ import annotations

from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from appcase.audit.canonical import MAX_SAFE_INTEGER, canonical_bytes
from appcase.audit.keys import (
    AuditInputError,
    generate_key,
    load_hmac_key,
    load_public_key,
    load_signer,
)
from appcase.errors import CaseNotFound
from appcase.states import State
from appcase.workflow.engine import CaseEngine
from appcase.workflow.verify import checkpoint, verify
from tests.builders import drive, local
from tests.dbcheck import db
from tests.strategies import Tamper
from tests.tampering import apply_tamper


@pytest.fixture
def recorded(engine: CaseEngine) -> dict[str, str]:
    """Three cases (one referred to the judiciary) and a checkpoint."""
    ids = {
        "rectified": drive(engine, State.RECTIFIED, n=0).id,
        "taken_down": drive(engine, State.TAKEN_DOWN, n=1).id,
        "judged": drive(engine, State.JUDGED, n=2, illegal=True).id,
    }
    engine.fire(ids["judged"], "refer", actor="cs-cac", reason="涉嫌违法", at=local(3, 13))
    checkpoint(engine)
    return ids


def _raw(engine: CaseEngine, sql: str) -> None:
    with db(engine).begin() as conn:
        conn.execute(text(sql))


# --- append-only ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE events SET reason = 'x'",
        "DELETE FROM events",
        "UPDATE checkpoints SET case_count = 0",
        "DELETE FROM checkpoints",
    ],
)
def test_triggers_refuse_updates_and_deletes(
    engine: CaseEngine, recorded: dict[str, str], sql: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        _raw(engine, sql)
    assert verify(engine).ok


def test_postgresql_refuses_truncate(engine: CaseEngine, recorded: dict[str, str]) -> None:
    if db(engine).dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    for table in ("events", "checkpoints"):
        with pytest.raises(DBAPIError, match="append-only"):
            _raw(engine, f"TRUNCATE {table} CASCADE")


# --- tampering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "seq", "other", "column"),
    [
        ("edit", 3, 0, "payload"),
        ("edit", 2, 0, "occurred_at"),
        ("edit", 4, 0, "hash"),
        ("edit", 5, 0, "canonical"),
        ("delete", 2, 0, ""),
        ("insert", 3, 0, ""),
        ("insert", 7, 0, ""),
        ("reorder", 2, 5, ""),
        ("delete_case", 0, 0, ""),
        ("truncate", 0, 0, ""),
        ("rewrite", 2, 0, ""),
    ],
)
def test_tampering_is_named_on_both_engines(
    engine: CaseEngine,
    recorded: dict[str, str],
    db_url: str,
    kind: str,
    seq: int,
    other: int,
    column: str,
) -> None:
    tamper = Tamper(kind, recorded["rectified"], seq, other, column)
    expected = apply_tamper(db_url, tamper)
    report = verify(engine)
    assert [p[:3] for p in report.problems] == [expected]
    if kind != "delete_case":
        assert verify(engine, recorded["taken_down"]).ok


def test_one_case_is_verified_alone_even_when_deleted(
    engine: CaseEngine, recorded: dict[str, str], db_url: str
) -> None:
    gone = recorded["taken_down"]
    apply_tamper(db_url, Tamper("delete_case", gone))
    assert [p[:3] for p in verify(engine, gone).problems] == [(gone, None, "checkpoint_mismatch")]
    assert verify(engine, recorded["rectified"]).ok
    with pytest.raises(CaseNotFound):
        verify(engine, "HN2018-430100-0099")


# --- checkpoints ----------------------------------------------------------------------------


def test_checkpoints_are_chained_and_count_the_campaign(
    engine: CaseEngine, recorded: dict[str, str]
) -> None:
    second = checkpoint(engine)
    assert second.seq == 2
    assert second.cases == 3
    assert second.events == 6 + 5 + 4
    drive(engine, State.SURVEYED, n=3)
    third = checkpoint(engine)
    assert (third.seq, third.cases, third.events) == (3, 4, 16)
    assert third.prev_digest == second.digest
    assert third.signature_alg is None
    report = verify(engine)
    assert report.ok
    assert report.checkpoints == 3


def test_a_forged_checkpoint_breaks_the_chain(
    engine: CaseEngine, recorded: dict[str, str], db_url: str
) -> None:
    checkpoint(engine)
    if db(engine).dialect.name == "sqlite":
        _raw(engine, "DROP TRIGGER checkpoints_no_update")
    else:
        _raw(engine, "DROP TRIGGER checkpoints_append_only ON checkpoints")
    _raw(engine, "UPDATE checkpoints SET prev_digest = digest WHERE seq = 2")
    kinds = [p[:3] for p in verify(engine).problems]
    assert ("", None, "checkpoint_mismatch") in kinds
    assert {p[0] for p in verify(engine).problems} == {""}


def test_ed25519_signatures(engine: CaseEngine, tmp_path: Path) -> None:
    drive(engine, State.FLAGGED, n=0)
    key = tmp_path / "operator.key"
    pem, raw, key_id = generate_key(key)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert (key.stat().st_mode & 0o777) == 0o600
    public = load_public_key(f"{key}.pub")
    assert public.material.hex() == raw
    assert public.key_id == key_id
    assert [p[2] for p in verify(engine, key=public).problems] == ["bad_signature"]  # none yet
    checkpoint(engine)
    # the latest checkpoint must be signed with the key given
    assert [p[3] for p in verify(engine, key=public).problems] == [
        "the latest checkpoint (#1) is not signed with the key given"
    ]
    view = checkpoint(engine, signer=load_signer(key_file=key))
    assert (view.signature_alg, view.key_id) == ("ed25519", key_id)
    report = verify(engine, key=public)
    assert report.ok
    assert report.signatures_checked == 1
    hex_key = tmp_path / "hex.pub"
    hex_key.write_text(raw + "\n")
    assert verify(engine, key=load_public_key(hex_key)).ok
    other = tmp_path / "other.key"
    generate_key(other)
    wrong = verify(engine, key=load_public_key(f"{other}.pub"))
    assert [p[2] for p in wrong.problems] == ["bad_signature"]
    with pytest.raises(AuditInputError, match="exists"):
        generate_key(key)


def test_a_signature_over_another_digest_fails(
    engine: CaseEngine, tmp_path: Path, db_url: str
) -> None:
    drive(engine, State.FLAGGED, n=0)
    key = tmp_path / "operator.key"
    generate_key(key)
    checkpoint(engine, signer=load_signer(key_file=key))
    checkpoint(engine, signer=load_signer(key_file=key))
    if db(engine).dialect.name == "sqlite":
        _raw(engine, "DROP TRIGGER checkpoints_no_update")
    else:
        _raw(engine, "DROP TRIGGER checkpoints_append_only ON checkpoints")
    _raw(
        engine,
        "UPDATE checkpoints SET signature = "
        "(SELECT signature FROM checkpoints c WHERE c.seq = 1) WHERE seq = 2",
    )
    problems = verify(engine, key=load_public_key(f"{key}.pub")).problems
    assert [(p[2], p[3]) for p in problems] == [
        ("bad_signature", "checkpoint #2: the signature does not verify")
    ]


def test_hmac_signatures(engine: CaseEngine, tmp_path: Path) -> None:
    drive(engine, State.FLAGGED, n=0)
    key = tmp_path / "hmac.key"
    key.write_text("k" * 40 + "\n")
    view = checkpoint(engine, signer=load_signer(hmac_key_file=key))
    assert view.signature_alg == "hmac-sha256"
    assert verify(engine, key=load_hmac_key(key)).ok
    other = tmp_path / "other.key"
    other.write_text("j" * 40)
    assert [p[2] for p in verify(engine, key=load_hmac_key(other)).problems] == ["bad_signature"]
    short = tmp_path / "short.key"
    short.write_text("too short")
    with pytest.raises(AuditInputError, match="at least 32"):
        load_signer(hmac_key_file=short)


def test_bad_key_files_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(AuditInputError, match="not an unencrypted PEM private key"):
        load_signer(key_file=junk)
    with pytest.raises(AuditInputError, match="cannot read"):
        load_signer(key_file=tmp_path / "missing.pem")
    with pytest.raises(AuditInputError, match="not both"):
        load_signer(key_file=junk, hmac_key_file=junk)


# --- canonical encoding ---------------------------------------------------------------------

ascii_keys = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=8)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ascii_keys, inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_the_canonical_encoding_is_rfc_8785(value: object) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value", [1.0, {"a": 0.5}, 2**53, -(2**53), {"é": 1}, {"a": {1, 2}}, "\ud800"]
)
def test_the_canonical_encoding_refuses_what_rfc_8785_subset_excludes(value: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by value
        canonical_bytes(value)


# --- the migration ----------------------------------------------------------------------------


def test_the_checkpoints_model_matches_its_migration(engine: CaseEngine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from appcase.persistence.models import Base

    with db(engine).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if "checkpoints" in repr(d)] == []


def test_migration_0003_goes_down_and_up(sqlite_engine: CaseEngine) -> None:
    from sqlalchemy import inspect

    from appcase.persistence.db import current_revision, downgrade, head_revision, upgrade

    bind = db(sqlite_engine)
    drive(sqlite_engine, State.FLAGGED)
    checkpoint(sqlite_engine)
    downgrade(bind, "0002")
    assert current_revision(bind) == "0002"
    assert "checkpoints" not in inspect(bind).get_table_names()
    upgrade(bind)
    assert current_revision(bind) == head_revision()
    checkpoint(sqlite_engine)
    with pytest.raises(DBAPIError, match="append-only"):
        _raw(sqlite_engine, "DELETE FROM checkpoints")
    with pytest.raises(DBAPIError, match="events are append-only"):
        _raw(sqlite_engine, "DELETE FROM events")


# --- bundles on both engines -----------------------------------------------------------------


def test_a_bundle_exported_from_either_engine_verifies(
    engine: CaseEngine, recorded: dict[str, str], tmp_path: Path
) -> None:
    from appcase.audit.bundle import verify_bundle
    from appcase.workflow.export import export_bundle

    drive(engine, State.SURVEYED, n=3, prefecture="430200")
    result = export_bundle(engine, tmp_path / "bundle")
    assert (result.cases, result.events, result.checkpoints) == (4, 16, 1)
    report = verify_bundle(tmp_path / "bundle")
    assert report.ok, report.problems
    cases = (tmp_path / "bundle" / "cases.jsonl").read_text("utf-8").splitlines()
    ids = [line.split('"case_id":"')[1].split('"')[0] for line in cases]
    assert ids == sorted(ids)  # code-point order, whatever the database's collation


def test_checkpoints_taken_at_once_queue(engine: CaseEngine, recorded: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        views = list(pool.map(lambda _: checkpoint(engine), range(4)))
    assert sorted(v.seq for v in views) == [2, 3, 4, 5]
    report = verify(engine)
    assert report.ok, report.problems
    assert report.checkpoints == 5
