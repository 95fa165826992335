"""Checks on the shipped demo ledger appcase/data/hunan-2018-ledger.csv."""

from __future__ import annotations

import csv
import importlib.util
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType

import pytest

from appcase.states.identifiers import validate_icp_filing, validate_uscc

REPO_ROOT = Path(__file__).resolve().parents[2]
LEDGER = REPO_ROOT / "appcase" / "data" / "hunan-2018-ledger.csv"
GENERATOR = REPO_ROOT / "tools" / "make_demo_ledger.py"

HEADER = "app_name,operator,uscc,icp_filing,platforms,target_users,used_by_schools,prefecture"
PREFECTURES = {
    "430100": "长沙",
    "430200": "株洲",
    "430300": "湘潭",
    "430400": "衡阳",
    "430500": "邵阳",
    "430600": "岳阳",
    "430700": "常德",
    "430800": "张家界",
    "430900": "益阳",
    "431000": "郴州",
    "431100": "永州",
    "431200": "怀化",
    "431300": "娄底",
    "433100": "湘西",
}
PLATFORMS = [
    "华为应用市场",
    "小米应用商店",
    "OPPO软件商店",
    "vivo应用商店",
    "应用宝",
    "App Store",
    "百度手机助手",
    "360手机助手",
]
TARGET_USERS = {"小学生", "初中生", "高中生", "中小学生", "学前儿童", "家长和学生"}


def _load_generator() -> ModuleType:
    # tools/ is not a package: load the script by path.
    spec = importlib.util.spec_from_file_location("make_demo_ledger", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with LEDGER.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_header_exact() -> None:
    first_line = LEDGER.read_bytes().split(b"\n", 1)[0]
    assert first_line.decode("utf-8") == HEADER


def test_utf8_without_bom_and_lf_endings() -> None:
    data = LEDGER.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in data
    assert data.endswith(b"\n")
    data.decode("utf-8")


def test_row_count(rows: list[dict[str, str]]) -> None:
    assert 280 <= len(rows) <= 320


def test_every_field_filled(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert None not in row, row  # no extra fields
        assert all(row[field] for field in HEADER.split(",")), row


def test_every_prefecture_present_and_changsha_largest(rows: list[dict[str, str]]) -> None:
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["prefecture"]] += 1
    assert set(counts) == set(PREFECTURES)
    assert max(counts, key=counts.__getitem__) == "430100"
    assert counts["430100"] > 2 * counts["430800"]
    assert counts["430100"] > 2 * counts["433100"]


def test_app_names_unique(rows: list[dict[str, str]]) -> None:
    names = [row["app_name"] for row in rows]
    assert len(names) == len(set(names))


def test_identifiers_valid(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert validate_uscc(row["uscc"]) == row["uscc"]
        assert validate_icp_filing(row["icp_filing"]) == row["icp_filing"]
        assert row["icp_filing"].startswith("湘ICP备18")


def test_uscc_matches_prefecture(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert row["uscc"][:8] == "91" + row["prefecture"], row


def test_operator_named_after_its_prefecture(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert row["operator"].startswith(PREFECTURES[row["prefecture"]]), row
        assert row["operator"].endswith("有限公司"), row


def test_same_operator_same_uscc_and_icp_main_number(rows: list[dict[str, str]]) -> None:
    usccs: dict[str, set[str]] = defaultdict(set)
    icp_main: dict[str, set[str]] = defaultdict(set)
    icp_full: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        usccs[row["operator"]].add(row["uscc"])
        icp_main[row["operator"]].add(row["icp_filing"].split("-")[0])
        icp_full[row["operator"]].append(row["icp_filing"])
    assert all(len(codes) == 1 for codes in usccs.values())
    assert all(len(numbers) == 1 for numbers in icp_main.values())
    # Different apps of one operator have different filing suffixes.
    assert all(len(full) == len(set(full)) for full in icp_full.values())
    # ... and different operators have different codes and main numbers.
    assert len({next(iter(codes)) for codes in usccs.values()}) == len(usccs)
    assert len({next(iter(numbers)) for numbers in icp_main.values()}) == len(icp_main)
    # Some operators run more than one app.
    assert any(len(full) > 1 for full in icp_full.values())


def test_platforms_and_target_users(rows: list[dict[str, str]]) -> None:
    for row in rows:
        platforms = row["platforms"].split(";")
        assert platforms, row
        assert all(p in PLATFORMS for p in platforms), row
        assert len(platforms) == len(set(platforms)), row
        assert row["target_users"] in TARGET_USERS, row


def test_used_by_schools_about_35_percent(rows: list[dict[str, str]]) -> None:
    values = [row["used_by_schools"] for row in rows]
    assert set(values) <= {"true", "false"}
    share = values.count("true") / len(values)
    assert 0.25 <= share <= 0.45


def test_no_real_product_names(rows: list[dict[str, str]]) -> None:
    fragments = _load_generator().REAL_NAME_FRAGMENTS
    for row in rows:
        assert not any(part in row["app_name"] for part in fragments), row


def test_generator_reproduces_shipped_file(tmp_path: Path) -> None:
    generator = _load_generator()
    first = generator.main(tmp_path / "one.csv")
    second = generator.main(tmp_path / "two.csv")
    assert first.read_bytes() == second.read_bytes() == LEDGER.read_bytes()
