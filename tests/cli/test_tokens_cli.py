"""``appcase actor token create|list|revoke``, ``actor add`` and ``actor log``: an
administrator's acts, logged in a hash-chained log."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.builders import ADMIN, cli_database, run_cli


def test_token_create_list_revoke(tmp_path: Path) -> None:
    source, _ = cli_database(tmp_path / "src")
    db = tmp_path / "cases.sqlite"
    shutil.copy(source, db)
    create = ["actor", "token", "create", "cs-cac", "--expires-in", "7"]
    refused = run_cli(db, *create, actor="prov")
    assert refused.exit_code == 1
    assert "prov (cac_province) may not issue a token" in refused.stderr
    made = run_cli(db, *create, as_json=True, actor=ADMIN)
    assert made.exit_code == 0, made.output
    issued = json.loads(made.output)
    assert issued["token"].startswith("act_")
    listed = run_cli(db, "actor", "token", "list")
    assert issued["id"] in listed.output
    assert issued["token"] not in listed.output
    assert run_cli(db, "actor", "token", "revoke", issued["id"], actor="cs-cac").exit_code == 1
    assert run_cli(db, "actor", "token", "revoke", issued["id"], actor=ADMIN).exit_code == 0
    assert "revoked" in run_cli(db, "actor", "token", "list").output
    assert run_cli(db, "actor", "token", "revoke", issued["id"], actor=ADMIN).exit_code == 2
    assert run_cli(db, "actor", "token", "create", "system", actor=ADMIN).exit_code == 2
    log = run_cli(db, "actor", "log")
    assert log.exit_code == 0, log.output
    assert f"{ADMIN}  token.issue   {issued['id']}" in log.stdout
    assert f"{ADMIN}  token.revoke  {issued['id']}" in log.stdout
    assert log.stdout.endswith("chain intact: 8 entries\n")  # 6 actors, 1 issue, 1 revoke
    assert issued["token"] not in log.stdout


def test_only_an_administrator_registers_actors_and_the_first_registers_itself(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cases.sqlite"
    assert run_cli(db, "init").exit_code == 0
    add = ["actor", "add", "cs-cac", "--role", "cac_prefecture", "--jurisdiction", "430100"]
    nobody = run_cli(db, *add)
    assert nobody.exit_code == 1
    assert "only the first administrator may be registered" in nobody.stderr
    assert run_cli(db, "actor", "add", "root", "--role", "administrator").exit_code == 0
    assert run_cli(db, "actor", "add", "root", "--role", "administrator").exit_code == 0  # again
    second = run_cli(db, "actor", "add", "root2", "--role", "administrator")
    assert second.exit_code == 1  # no second bootstrap once one exists
    assert run_cli(db, *add, actor="root").exit_code == 0
    by_officer = run_cli(db, "actor", "add", "x1", "--role", "cac_province", actor="cs-cac")
    assert by_officer.exit_code == 1
    assert "that is an administrator's act" in by_officer.stderr
    flagged = run_cli(db, "flag", "HN2018-430100-0001", "--category", "other", actor="root")
    assert flagged.exit_code in (1, 2)  # no such case; an administrator fires nothing anyway
    ids = [a["id"] for a in json.loads(run_cli(db, "actor", "list", as_json=True).stdout)]
    assert ids == ["cs-cac", "root"]
    log = json.loads(run_cli(db, "actor", "log", as_json=True).stdout)
    assert [(e["actor"], e["action"], e["subject"]) for e in log["entries"]] == [
        ("root", "actor.add", "root"),
        ("root", "actor.add", "cs-cac"),
    ]
    # the log is append-only; an entry edited behind the database's back breaks the chain
    with closing(sqlite3.connect(db)) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM admin_acts WHERE seq = 2")
        conn.execute("DROP TRIGGER admin_acts_no_update")
        conn.execute("UPDATE admin_acts SET actor_id = 'cs-cac' WHERE seq = 2")
        conn.commit()
    broken = run_cli(db, "actor", "log")
    assert broken.exit_code == 1
    assert "admin log entry 2: its record does not match its hash" in broken.stdout
    audit = run_cli(db, "audit", "verify")
    assert audit.exit_code == 1
    assert "admin log entry 2" in audit.output


def test_an_actor_edited_or_a_log_row_unreadable_is_named_not_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "cases.sqlite"
    assert run_cli(db, "init").exit_code == 0
    assert run_cli(db, "actor", "add", "root", "--role", "administrator").exit_code == 0
    add = ["actor", "add", "cs-cac", "--role", "cac_prefecture", "--jurisdiction", "430100"]
    assert run_cli(db, *add, actor="root").exit_code == 0
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE actors SET role = 'administrator' WHERE id = 'cs-cac'")
        conn.commit()
    audit = run_cli(db, "audit", "verify")
    assert audit.exit_code == 1, audit.output
    assert "actor cs-cac is stored as administrator in 430100" in audit.output
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE actors SET role = 'cac_prefecture' WHERE id = 'cs-cac'")
        conn.commit()
    assert run_cli(db, "audit", "verify").exit_code == 0
    for damage in ("recorded_at = 'not-an-instant'", "detail = '" + "[" * 100_000 + "'"):
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("DROP TRIGGER IF EXISTS admin_acts_no_update")
            conn.execute(f"UPDATE admin_acts SET {damage} WHERE seq = 2")
            conn.commit()
        for args in (["audit", "verify"], ["actor", "log"]):
            result = run_cli(db, *args, actor="root")
            assert result.exit_code == 1, result.output
            assert "the administrators' log cannot be read" in result.output
