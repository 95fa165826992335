"""``appcase actor token create|list|revoke``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.builders import cli_database, run_cli


def test_token_create_list_revoke(tmp_path: Path) -> None:
    source, _ = cli_database(tmp_path / "src")
    db = tmp_path / "cases.sqlite"
    shutil.copy(source, db)
    made = run_cli(db, "actor", "token", "create", "cs-cac", "--expires-in", "7", as_json=True)
    assert made.exit_code == 0, made.output
    issued = json.loads(made.output)
    assert issued["token"].startswith("act_")
    listed = run_cli(db, "actor", "token", "list")
    assert issued["id"] in listed.output
    assert issued["token"] not in listed.output
    assert run_cli(db, "actor", "token", "revoke", issued["id"]).exit_code == 0
    assert "revoked" in run_cli(db, "actor", "token", "list").output
    assert run_cli(db, "actor", "token", "revoke", issued["id"]).exit_code == 2
    assert run_cli(db, "actor", "token", "create", "system").exit_code == 2
