"""``appcase audit``: verify, checkpoint, keygen, export, replay -- exit codes, messages and
``--json``; ``show``/``list --as-of``; ``history`` as a timeline."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.builders import cli_database, run_cli


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return cli_database(tmp_path_factory.mktemp("audit-cli"))


@pytest.fixture
def db(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    path = tmp_path / "cases.sqlite"
    shutil.copyfile(template[0], path)
    return path


@pytest.fixture
def ids(template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return template[1]


def sql(db: Path, *statements: str) -> None:
    with closing(sqlite3.connect(db)) as conn:
        for s in statements:
            conn.execute(s)
        conn.commit()


def test_verify_ok(db: Path) -> None:
    result = run_cli(db, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "ok: 10 cases, 34 events, 0 checkpoints verified",
        "note: no checkpoint yet: 'appcase audit checkpoint' records one",
    ]
    body = json.loads(run_cli(db, "audit", "verify", as_json=True).stdout)
    assert (body["ok"], body["cases"], body["events"], body["problems"]) == (True, 10, 34, [])


def test_verify_names_the_first_damaged_case_event_and_kind(db: Path, ids: dict[str, str]) -> None:
    case = ids["pledged"]
    sql(
        db,
        "DROP TRIGGER events_no_update",
        f"UPDATE events SET reason = 'x' WHERE case_id = '{case}' AND seq = 3",
    )
    result = run_cli(db, "audit", "verify")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "refused: audit verification failed:",
        f"  - case {case} event #3: edited: the event's content does not match its hash",
    ]
    body = json.loads(run_cli(db, "audit", "verify", as_json=True).stdout)
    assert body["error"]["type"] == "AuditFailure"
    assert body["error"]["findings"] == [
        {
            "case_id": case,
            "seq": 3,
            "kind": "edited",
            "detail": "the event's content does not match its hash",
        }
    ]
    assert run_cli(db, "audit", "verify", "--case", ids["surveyed"]).exit_code == 0
    assert run_cli(db, "audit", "verify", "--case", case).exit_code == 1
    unknown = run_cli(db, "audit", "verify", "--case", "HN2018-430100-0999")
    assert unknown.exit_code == 2
    assert "no case 'HN2018-430100-0999'" in unknown.stderr


def test_a_case_deleted_after_a_checkpoint_is_named(db: Path, ids: dict[str, str]) -> None:
    made = run_cli(db, "audit", "checkpoint")
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("checkpoint #1: 10 cases, 34 events\n  digest ")
    case = ids["surveyed"]
    sql(
        db,
        "PRAGMA foreign_keys = OFF",
        "DROP TRIGGER events_no_delete",
        f"DELETE FROM events WHERE case_id = '{case}'",
        f"DELETE FROM cases WHERE id = '{case}'",
    )
    result = run_cli(db, "audit", "verify")
    assert result.exit_code == 1
    assert (
        f"  - case {case}: checkpoint_mismatch: the case was deleted after checkpoint #1, "
        "which recorded 1 events for it"
    ) in result.stderr.splitlines()


def test_signed_checkpoints(db: Path, tmp_path: Path) -> None:
    key = tmp_path / "operator.key"
    made = run_cli(db, "audit", "keygen", "--out", str(key))
    assert made.exit_code == 0, made.output
    assert "-----BEGIN PUBLIC KEY-----" in made.stdout
    assert key.exists()
    assert Path(f"{key}.pub").exists()
    again = run_cli(db, "audit", "keygen", "--out", str(key))
    assert again.exit_code == 2
    assert "keys are never overwritten" in again.stderr
    signed = run_cli(db, "audit", "checkpoint", "--key", str(key), as_json=True)
    assert signed.exit_code == 0, signed.output
    assert json.loads(signed.stdout)["signature_alg"] == "ed25519"
    ok = run_cli(db, "audit", "verify", "--public-key", f"{key}.pub")
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("ok: 10 cases, 34 events, 1 checkpoints, 1 signatures verified")
    other = tmp_path / "other.key"
    assert run_cli(db, "audit", "keygen", "--out", str(other)).exit_code == 0
    wrong = run_cli(db, "audit", "verify", "--public-key", f"{other}.pub")
    assert wrong.exit_code == 1
    assert "campaign: bad_signature" in wrong.stderr
    junk = tmp_path / "junk"
    junk.write_text("not a key")
    for args in (["verify", "--public-key", str(junk)], ["checkpoint", "--key", str(junk)]):
        bad = run_cli(db, "audit", *args)
        assert bad.exit_code == 2, bad.output
        assert "not an" in bad.stderr


def test_export_and_verify_the_bundle(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = run_cli(db, "audit", "export", "--out", str(out), "--checkpoint")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"bundle written to {out}: 10 cases, 34 events, 1 checkpoints")
    assert sorted(p.name for p in out.iterdir()) == [
        "CANONICALIZATION.md",
        "campaign.json",
        "cases.jsonl",
        "events.jsonl",
        "manifest.json",
    ]
    assert run_cli(db, "audit", "verify", "--bundle", str(out)).exit_code == 0
    again = run_cli(db, "audit", "export", "--out", str(out))
    assert again.exit_code == 2
    assert "is not an empty directory" in again.stderr
    unsigned = run_cli(db, "audit", "export", "--out", str(tmp_path / "b2"), "--key", "k")
    assert unsigned.exit_code == 2
    assert "add --checkpoint" in unsigned.stderr
    assert not (tmp_path / "b2").exists()
    (out / "notes.txt").write_text("an auditor's note")
    extra = run_cli(db, "audit", "verify", "--bundle", str(out))
    assert extra.exit_code == 1
    assert "  - campaign: malformed: notes.txt is not part of the bundle" in extra.stderr
    combined = run_cli(db, "audit", "verify", "--bundle", str(out), "--case", "X")
    assert combined.exit_code == 2


def test_replay(db: Path, ids: dict[str, str]) -> None:
    ok = run_cli(db, "audit", "replay")
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == "ok: 10 cases replayed to their stored state\n"
    sql(
        db,
        f"UPDATE cases SET judicial_state = 'referred_to_judiciary' WHERE id = '{ids['judged']}'",
    )
    bad = run_cli(db, "audit", "replay")
    assert bad.exit_code == 1
    assert (
        f"  - case {ids['judged']}: state_mismatch: judicial_state: replay gives not_referred, "
        "the case stores referred_to_judiciary"
    ) in bad.stderr.splitlines()


def test_show_and_list_as_of(db: Path, ids: dict[str, str]) -> None:
    case = ids["pledged"]
    shown = run_cli(db, "show", case, "--as-of", "2018-03-13T00:00+08:00")
    assert shown.exit_code == 0, shown.output
    fields = {line[2:18].strip(): line[18:] for line in shown.stdout.splitlines()[1:]}
    assert fields["as of"] == "2018-03-13 00:00 (events happened by then)"
    assert fields["state"] == "judged"
    body = json.loads(
        run_cli(db, "show", case, "--as-of", "2018-03-13T00:00+08:00", "--json").stdout
    )
    assert (body["state"], body["event_count"], body["basis"]) == ("judged", 3, "occurred")
    listed = run_cli(db, "list", "--as-of", "2018-02-25T00:00+08:00", "--state", "flagged")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.rstrip().endswith("(9 cases)")
    recorded = run_cli(db, "list", "--as-of", "2018-02-25T00:00+08:00", "--as-recorded")
    assert recorded.stdout.rstrip().endswith("(0 cases)")  # all entered on 2018-04-30
    for args, message in [
        (["show", case, "--as-recorded"], "--as-recorded needs --as-of"),
        (["show", case, "--as-of", "2018-02-01T00:00+08:00"], "was not yet in the ledger"),
        (["show", case, "--as-of", "2018-03-01T00:00"], "has no time zone"),
        (["list", "--as-of", "2018-03-01T00:00Z", "--phase", "survey"], "--phase cannot be"),
        (["list", "--as-of", "2018-03-01T00:00Z", "--overdue"], "--overdue cannot be"),
    ]:
        result = run_cli(db, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output


def test_history_is_a_readable_timeline(db: Path, ids: dict[str, str]) -> None:
    case = ids["judged_illegal"]
    result = run_cli(db, "history", case)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{case}: 3 events (times in Asia/Shanghai)"
    assert "#2 2018-02-21 10:00  flag                     surveyed → flagged" in lines
    assert "     recorded 2018-04-30 12:00" in lines  # entered later than it happened
    assert "     evidence: vulgar_pornographic via patrol: 低俗图片 (#1)" in lines
    assert "     finding: vulgar_pornographic (serious), evidence #1; suspected illegal" in lines
    assert "     disposition: interview_rectify" in lines
    assert any(line.startswith("     policy hunan-2018/") for line in lines)
    assert any("; refer to the judiciary" in line for line in lines)
    body = json.loads(run_cli(db, "history", case, "--json").stdout)
    assert [e["evidence_numbers"] for e in body] == [[], [1], []]
    assert body[2]["evidence_cited"] == [1]
    assert body[2]["policy_rules"]
    assert body[1]["occurred_local"] == "2018-02-21T10:00:00+08:00"
