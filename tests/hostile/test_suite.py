"""The hostile-input suite: generated and hand-made inputs for every command and every file
type, through the command line, checking that each ends with a documented exit code, no
traceback, within the time limit, and with the database byte-identical after a refusal
(:class:`tests.hostile.harness.Target`).

The short profile runs in the README's test command (the suite is marked ``slow``, left out
of the fast run); ``APPCASE_HOSTILE_PROFILE=long`` runs the long one. The terminal summary
counts the inputs tried.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appcase.adapters.ledger_file import write_template
from tests.builders import cli_database
from tests.hostile.conftest import EXAMPLES
from tests.hostile.harness import Target

pytestmark = [pytest.mark.slow]  # in every full run; left out of the fast run

AT = "2018-03-01T10:00+08:00"
USCC = "914403001922038216"

HAND_MADE_TEXT = [
    "",
    " ",
    "\udcff",
    "a\udc80b",
    "x" * 20_000,
    "a\nHN2018-430100-9999  forged",
    "\x1b[2J",
    "\u202egnp.exe",
    "\x00",
    "-1",
    "9" * 5000,
    "2018-03-01T10:00",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00Z",
    "../../../../etc/passwd",
    "/dev/zero",
    "/proc/self/mem",
    "postgresql://u@[::1/db",
    "☃" * 300,
    "HN2018-430100-0001",
    "other:minor:1,2,3:illegal",
    "vulgar_pornographic:severe:" + ",".join(["9" * 30] * 3),
]
TEXT = st.one_of(
    st.sampled_from(HAND_MADE_TEXT),
    st.text(
        st.characters(codec=None, categories=("Cs", "Cc", "Lo", "Nd", "Zl", "Cf", "Po")),
        max_size=40,
    ),
    st.text(max_size=30),
)

COMMANDS: dict[str, Callable[[str, str], list[str]]] = {
    "show CASE": lambda s, c: ["show", s],
    "show --as-of": lambda s, c: ["show", c, "--as-of", s],
    "history CASE": lambda s, c: ["history", s],
    "list --text": lambda s, c: ["list", "--text", s],
    "list --prefecture": lambda s, c: ["list", "--prefecture", s],
    "audit verify --case": lambda s, c: ["audit", "verify", "--case", s],
    "audit replay --case": lambda s, c: ["audit", "replay", "--case", s],
    "survey --name": lambda s, c: [
        "--actor",
        "cs-cac",
        "survey",
        "--name",
        s,
        "--operator",
        "o",
        "--uscc",
        USCC,
        "--prefecture",
        "430100",
        "--at",
        "2018-02-20T10:00+08:00",
    ],
    "survey --uscc": lambda s, c: [
        "--actor",
        "cs-cac",
        "survey",
        "--name",
        "n",
        "--operator",
        "o",
        "--uscc",
        s,
        "--prefecture",
        "430100",
        "--at",
        "2018-02-20T10:00+08:00",
    ],
    "flag --description": lambda s, c: [
        "--actor",
        "cs-cac",
        "flag",
        c,
        "--category",
        "other",
        "--description",
        s,
        "--at",
        AT,
    ],
    "flag --at": lambda s, c: [
        "--actor",
        "cs-cac",
        "flag",
        c,
        "--category",
        "other",
        "--description",
        "d",
        "--at",
        s,
    ],
    "escalate --reason": lambda s, c: [
        "--actor",
        "cs-cac",
        "escalate",
        c,
        "--reason",
        s,
        "--at",
        AT,
    ],
    "judge --finding": lambda s, c: ["--actor", "cs-edu", "judge", c, "--finding", s, "--at", AT],
    "actor add --name": lambda s, c: [
        "actor",
        "add",
        "zz-new",
        "--role",
        "cac_prefecture",
        "--jurisdiction",
        "430100",
        "--name",
        s,
    ],
    "actor add ID": lambda s, c: [
        "actor",
        "add",
        s,
        "--role",
        "cac_prefecture",
        "--jurisdiction",
        "430100",
    ],
    "--actor": lambda s, c: [
        "--actor",
        s,
        "flag",
        c,
        "--category",
        "other",
        "--description",
        "d",
        "--at",
        AT,
    ],
    "--db": lambda s, c: ["--db", s, "list"],
    "--campaign": lambda s, c: ["--campaign", s, "list"],
    "policy explain --finding": lambda s, c: ["policy", "explain", "--finding", s],
    "report hotline --description": lambda s, c: [
        "--actor",
        "cs-cac",
        "report",
        "hotline",
        "--case",
        c,
        "--category",
        "other",
        "--description",
        s,
        "--at",
        AT,
    ],
    "report summary --prefecture": lambda s, c: [
        "report",
        "summary",
        "--prefecture",
        s,
        "--at",
        AT,
    ],
    "sweep --at": lambda s, c: ["sweep", "--at", s],
    "import ledger FILE": lambda s, c: ["--actor", "cs-cac", "import", "ledger", s],
    "audit export --out": lambda s, c: ["audit", "export", "--checkpoint", "--out", s],
    "campaign show": lambda s, c: ["campaign", "show", s],
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return cli_database(tmp_path_factory.mktemp("hostile"))


@pytest.fixture
def target(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Target:
    db = tmp_path / "cases.sqlite"
    shutil.copyfile(template[0], db)
    return Target(db)


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_arguments(
    target: Target,
    template: tuple[Path, dict[str, str]],
    tmp_path: Path,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    case = template[1]["surveyed"]

    @SETTINGS
    @given(TEXT)
    def run(text: str) -> None:
        target.run(command, COMMANDS[command](text, case))

    run()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
HAND_MADE_JSON = [
    b"",
    b"\xff\xfe",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a": ' + b"9" * 5000 + b"}",
    b'{"a": NaN}',
    b'{"a": 1e999}',
    b'{"evidence": 5}',
    b'{"evidence": [[]]}',
    b'{"evidence": [{"harm_category": ["x"], "description": {}}]}',
    b'{"evidence": [{"harm_category": "other", "description": "\\udcff"}]}',
    b'{"evidence": [{"harm_category": "other", "description": "' + b"x" * 5000 + b'"}]}',
    b"0" * 2_000_000,
]
JSON_FILES = st.one_of(
    st.sampled_from(HAND_MADE_JSON),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["evidence", "reason", "findings", "disposition", "officers"]),
        JSON_VALUES,
        max_size=3,
    ).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
)

JSON_COMMANDS: dict[str, Callable[[str, str], list[str]]] = {
    "payload file (flag --payload)": lambda p, c: [
        "--actor",
        "cs-cac",
        "flag",
        c,
        "--payload",
        p,
        "--at",
        AT,
    ],
    "payload file (judge --payload)": lambda p, c: [
        "--actor",
        "cs-edu",
        "judge",
        c,
        "--payload",
        p,
        "--at",
        AT,
    ],
    "payload file (survey --app-file)": lambda p, c: [
        "--actor",
        "cs-cac",
        "survey",
        "--app-file",
        p,
        "--at",
        AT,
    ],
    "payload file (hotline --reporter-file)": lambda p, c: [
        "--actor",
        "cs-cac",
        "report",
        "hotline",
        "--case",
        c,
        "--category",
        "other",
        "--description",
        "d",
        "--reporter-file",
        p,
        "--at",
        AT,
    ],
}


@pytest.mark.parametrize("command", sorted(JSON_COMMANDS))
def test_json_files(
    target: Target, template: tuple[Path, dict[str, str]], tmp_path: Path, command: str
) -> None:
    case = template[1]["flagged"]
    path = tmp_path / "payload.json"

    @SETTINGS
    @given(JSON_FILES)
    def run(data: bytes) -> None:
        path.write_bytes(data)
        target.run(command, JSON_COMMANDS[command](str(path), case))

    run()


def _builtin_campaign() -> str:
    from importlib import resources

    return resources.files("appcase.data").joinpath("hunan-2018.toml").read_text("utf-8")


CAMPAIGN_EDITS = st.sampled_from(
    [
        ("pledge_default_days = 10", "pledge_default_days = 99999999999"),
        ("pledge_default_days = 10", "pledge_default_days = " + "9" * 5000),
        ("pledge_default_days = 10", "pledge_default_days = inf"),
        ("min_notice_hours = 24", "min_notice_hours = 9999999999999"),
        ("Asia/Shanghai", "Mars/Base"),
        ("Asia/Shanghai", "../../etc/passwd"),
        ("2018-02-13", "9999-12-31"),
        ("2018-02-13", "0001-01-01"),
        ("[", "[[" * 500),
        ('"', "'"),
    ]
)


@pytest.mark.parametrize("command", ["init --campaign-file", "policy explain --campaign-file"])
def test_campaign_files(target: Target, tmp_path: Path, command: str) -> None:
    base = _builtin_campaign()
    path = tmp_path / "c.toml"

    @SETTINGS
    @given(
        st.one_of(
            CAMPAIGN_EDITS.map(lambda e: base.replace(*e).encode()),
            st.binary(max_size=200),
            st.text(max_size=200).map(str.encode),
            st.integers(1, 3000).map(lambda n: (f"a = {'[' * n}{']' * n}").encode()),
        )
    )
    def run(data: bytes) -> None:
        path.write_bytes(data)
        args = (
            ["init", "--campaign-file", str(path)]
            if command.startswith("init")
            else ["policy", "explain", "--campaign-file", str(path), "--finding", "other:minor"]
        )
        target.run(command, args)

    run()


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    import csv

    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


HEADER = ["app_name", "operator", "uscc", "prefecture", "surveyed_at", "used_by_schools"]
CELLS = st.one_of(
    TEXT, st.sampled_from(["INF", "NaN", "1e400", "-0", USCC, "430100", "长沙市", "是"])
)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_ledger_files(target: Target, tmp_path: Path, kind: str) -> None:
    template = tmp_path / "template.xlsx"
    write_template(template)
    sheet = zipfile.ZipFile(template).read("xl/worksheets/sheet1.xml")

    def xlsx(cells: list[str], cut: int | None, raw: bytes | None) -> bytes:
        body = "".join(
            f'<c r="{"ABCDEFGHI"[i]}2"><v>{c}</v></c>'
            if i % 2
            else f'<c r="{"ABCDEFGHI"[i]}2" t="inlineStr"><is><t>{c}</t></is></c>'
            for i, c in enumerate(cells[:9])
        )
        xml = (
            raw
            if raw is not None
            else sheet.replace(
                b"</sheetData>",
                f'<row r="2">{body}</row></sheetData>'.encode("utf-8", "surrogatepass"),
            )
        )
        buf = io.BytesIO()
        with zipfile.ZipFile(template) as src, zipfile.ZipFile(buf, "w") as dst:
            for item in src.namelist():
                dst.writestr(item, xml if item == "xl/worksheets/sheet1.xml" else src.read(item))
        data = buf.getvalue()
        return data[:cut] if cut is not None else data

    path = tmp_path / f"ledger.{kind}"
    rows = st.lists(st.lists(CELLS, min_size=1, max_size=8), max_size=4)

    @SETTINGS
    @given(
        rows,
        st.none() | st.integers(0, 4000),
        st.none()
        | st.sampled_from(
            [
                b"",
                b"<",
                b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a SYSTEM 'file:///etc/passwd'>]><worksheet>&a;</worksheet>",
            ]
        ),
    )
    def run(cells: list[list[str]], cut: int | None, raw: bytes | None) -> None:
        if kind == "csv":
            data = _csv([HEADER, *cells])
            path.write_bytes(data if cut is None else data[:cut] + b"\xff")
        else:
            flat = [c.replace("<", "&lt;").replace("&", "&amp;") for row in cells for c in row]
            path.write_bytes(xlsx(flat, cut, raw))
        target.run(
            f"ledger file ({kind})",
            ["--actor", "cs-cac", "import", "ledger", str(path), "--at", "2018-02-20T10:00+08:00"],
        )

    run()


KEYS = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"-----BEGIN PUBLIC KEY-----\n" + b"A" * 100_000 + b"\n-----END PUBLIC KEY-----\n",
            b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n",
            b"f" * 64,
            b"\x00" * 70_000,
            b"z" * 63,
        ]
    ),
)


@pytest.mark.parametrize(
    "option",
    ["checkpoint --key", "checkpoint --hmac-key", "verify --public-key", "verify --hmac-key"],
)
def test_key_files(target: Target, tmp_path: Path, option: str) -> None:
    path = tmp_path / "k.key"

    @SETTINGS
    @given(KEYS)
    def run(data: bytes) -> None:
        path.write_bytes(data)
        command, flag = option.split()
        target.run(f"key file (audit {option})", ["audit", command, flag, str(path)])

    run()


def test_notes_files(target: Target, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"

    @SETTINGS
    @given(
        st.one_of(
            st.binary(max_size=100),
            st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
        )
    )
    def run(data: bytes) -> None:
        path.write_bytes(data)
        target.run(
            "notes file (report summary --notes)",
            ["report", "summary", "--province", "--notes", str(path), "--at", AT],
        )

    run()
