"""A refused or failed command leaves the database file unchanged, byte for byte.

The SQLite file runs in WAL mode, so each check compares three things: the bytes of the main
file and of its ``-wal`` log right after the command (before anything checkpoints them),
the main file's bytes after ``PRAGMA wal_checkpoint(TRUNCATE)``, and every row of every table.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.builders import (
    checkpoint,
    cli_database,
    dump_tables,
    file_digests,
    run_cli,
    unique_app,
)

AT = ["--at", "2018-03-01T10:00+08:00"]
LISTED = unique_app(0)
"""The app of the first standard case (already in the ledger)."""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return cli_database(tmp_path_factory.mktemp("nothing"))


@pytest.fixture
def db(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    path = tmp_path / "cases.sqlite"
    shutil.copyfile(template[0], path)
    checkpoint(path)
    return path


@pytest.fixture(scope="module")
def ids(template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return template[1]


def run_and_compare(db: Path, args: list[str], actor: str | None) -> tuple[int, bool]:
    """Run a command; return its exit code and whether the database stayed the same."""
    files, rows = file_digests(db), dump_tables(db)
    result = run_cli(db, *args, actor=actor)
    raw_same = file_digests(db) == files
    checkpoint(db)
    same = raw_same and file_digests(db) == files and dump_tables(db) == rows
    return result.exit_code, same


REFUSED: list[tuple[str, str | None, list[str], int]] = [
    (
        "several guards",
        "zz-edu",
        ["interview", "@flagged", "--officer", "张伟", "--at", "2018-04-10T10:00+08:00"],
        1,
    ),
    (
        "the wrong state",
        "prov",
        ["take-down", "@judged", "--decision-no", "湘网信〔2018〕12号", *AT],
        1,
    ),
    ("a missing reason", "cs-cac", ["refer", "@judged_illegal", *AT], 1),
    (
        "a survey of a listed app",
        "cs-cac",
        [
            "survey",
            "--name",
            LISTED["name"],
            "--operator",
            LISTED["operator"],
            "--uscc",
            LISTED["uscc"],
            "--prefecture",
            "430100",
            *AT,
        ],
        1,
    ),
    (
        "rectification after the deadline",
        "cs-cac",
        [
            "rectify",
            "@pledged",
            "--verified",
            "1",
            "--verified",
            "2",
            "--at",
            "2018-03-29T09:00+08:00",
        ],
        1,
    ),
    ("an unknown case", "cs-cac", ["flag", "HN2018-430100-0999", "--category", "other", *AT], 2),
    ("an unknown actor", "ghost", ["flag", "@surveyed", "--category", "other", *AT], 2),
    ("no actor", None, ["flag", "@surveyed", "--category", "other", *AT], 2),
    ("a naive time", "cs-cac", ["flag", "@surveyed", "--at", "2018-03-01T10:00"], 2),
    ("a malformed finding", "cs-edu", ["judge", "@flagged", "--finding", "other", *AT], 2),
    (
        "a bad credit code",
        "cs-cac",
        [
            "survey",
            "--name",
            "x",
            "--operator",
            "y",
            "--uscc",
            "914403001922038217",
            "--prefecture",
            "430100",
            *AT,
        ],
        2,
    ),
    (
        "an undeclared role",
        None,
        ["actor", "add", "x", "--role", "mayor", "--jurisdiction", "430100"],
        2,
    ),
    ("a different campaign", None, ["init", "--campaign-file", "@other-campaign"], 2),
    ("a missing campaign file", None, ["init", "--campaign-file", "/nonexistent.toml"], 2),
]


@pytest.mark.parametrize(
    ("actor", "args", "code"), [pytest.param(a, g, c, id=n) for n, a, g, c in REFUSED]
)
def test_a_refused_command_leaves_the_database_unchanged(
    db: Path, ids: dict[str, str], tmp_path: Path, actor: str | None, args: list[str], code: int
) -> None:
    if "@other-campaign" in args:
        from importlib import resources

        text = resources.files("appcase.data").joinpath("hunan-2018.toml").read_text("utf-8")
        other = tmp_path / "other.toml"
        other.write_text(text.replace("min_officers = 2", "min_officers = 3"), encoding="utf-8")
        args = [str(other) if a == "@other-campaign" else a for a in args]
    args = [ids[a[1:]] if a.startswith("@") else a for a in args]
    exit_code, same = run_and_compare(db, args, actor)
    assert exit_code == code
    assert same, "the database changed"


@pytest.mark.parametrize(
    "args",
    [
        ["show", "@pledged"],
        ["history", "@pledged"],
        ["list"],
        ["audit", "verify"],
        ["actor", "list"],
        ["campaign", "show"],
        ["db", "current"],
        ["sweep", "--at", "2018-03-20T00:00+08:00"],
    ],
)
def test_reading_commands_write_nothing(db: Path, ids: dict[str, str], args: list[str]) -> None:
    args = [ids[a[1:]] if a.startswith("@") else a for a in args]
    exit_code, same = run_and_compare(db, args, None)
    assert exit_code == 0
    assert same


def test_a_command_that_is_done_does_change_the_database(db: Path, ids: dict[str, str]) -> None:
    """The comparison can see a write (so the tests above can fail)."""
    args = ["flag", ids["surveyed"], "--category", "other", "--description", "广告", *AT]
    exit_code, same = run_and_compare(db, args, "cs-cac")
    assert exit_code == 0
    assert not same
