"""The campaign file: the built-in Hunan 2018 campaign, and files refused with every problem
named by its field path (:class:`~appcase.errors.CampaignFileError`, exit 2)."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from appcase.cli.exits import exit_code
from appcase.errors import CampaignFileError, InvalidInput
from appcase.policies.campaign import builtin_campaign, load_campaign, parse_campaign
from appcase.states import Event

HUNAN = resources.files("appcase.data").joinpath("hunan-2018.toml").read_text(encoding="utf-8")


def hunan_data() -> dict[str, Any]:
    return tomllib.loads(HUNAN)


def edited(old: str, new: str, count: int = 1) -> str:
    """The built-in file's text with ``old`` replaced (which must occur ``count`` times)."""
    assert HUNAN.count(old) == count, old
    return HUNAN.replace(old, new)


def refused(tmp_path: Path, text: str) -> CampaignFileError:
    path = tmp_path / "campaign.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CampaignFileError) as caught:
        load_campaign(path)
    exc = caught.value
    assert exc.source == str(path)
    assert isinstance(exc, InvalidInput)
    assert exit_code(exc) == 2
    assert str(exc).startswith(f"campaign file {path} is not valid:\n")
    for error in exc.errors:
        assert f"  - {error}" in str(exc)
    return exc


# --- the built-in campaign ---------------------------------------------------------------


def test_hunan_2018_is_built_in_with_its_fourteen_prefectures() -> None:
    c = builtin_campaign("hunan-2018")
    assert c == load_campaign("hunan-2018") == builtin_campaign()
    assert (c.id, c.case_prefix, c.timezone) == ("hunan-2018", "HN2018", "Asia/Shanghai")
    assert c.document_number == "湘网信办综〔2018〕1号"
    assert c.issued_on == date(2018, 2, 13)
    assert c.province.code == "430000"
    codes = [p.code for p in c.prefectures]
    assert len(codes) == len(set(codes)) == 14
    assert (codes[0], codes[-1]) == ("430100", "433100")
    assert c.jurisdiction("430100").name_zh == "长沙市"  # type: ignore[union-attr]
    assert c.jurisdiction("433100").name_zh == "湘西土家族苗族自治州"  # type: ignore[union-attr]
    assert c.jurisdiction("440100") is None


def test_hunan_2018_phases_windows_roles_and_categories() -> None:
    c = builtin_campaign()
    phases = {p.id: (p.start, p.deadline) for p in c.phases}
    assert phases == {
        "survey": (date(2018, 2, 13), date(2018, 3, 10)),
        "judgment": (date(2018, 2, 13), date(2018, 3, 31)),
        "summary": (date(2018, 4, 1), date(2018, 4, 5)),
    }
    assert set(c.windows) == set(Event)
    assert c.windows[Event.FLAG] == ("survey",)
    assert c.windows[Event.JUDGE] == ("judgment",)
    assert {r.id for r in c.roles} == {"cac_prefecture", "edu_prefecture", "cac_province"}
    assert Event.JUDGE in c.role("edu_prefecture").events  # type: ignore[union-attr]
    assert Event.JUDGE not in c.role("cac_prefecture").events  # type: ignore[union-attr]
    assert c.role("system") is None
    assert c.harm_category_ids >= {
        "distorting_history",
        "vulgar_pornographic",
        "inciting_violence",
        "inciting_social_conflict",
        "other",
    }


def test_the_same_file_from_disk_is_the_same_campaign(tmp_path: Path) -> None:
    path = tmp_path / "copy.toml"
    path.write_text(HUNAN, encoding="utf-8")
    loaded = load_campaign(path)
    assert loaded == load_campaign(str(path)) == builtin_campaign()
    assert loaded.digest() == builtin_campaign().digest()
    assert len(loaded.digest()) == 64


def test_a_changed_parameter_changes_the_digest(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(edited("min_officers = 2", "min_officers = 3"), encoding="utf-8")
    loaded = load_campaign(path)
    assert loaded.policy.interview.min_officers == 3
    assert loaded.digest() != builtin_campaign().digest()


def test_an_unknown_builtin_id_is_refused() -> None:
    with pytest.raises(CampaignFileError) as caught:
        builtin_campaign("hunan-2019")
    assert caught.value.errors == ["(id): no built-in campaign; known: hunan-2018"]


# --- files that are not campaign files -----------------------------------------------------


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CampaignFileError) as caught:
        load_campaign(tmp_path / "nowhere.toml")
    assert caught.value.errors == ["(file): cannot read it: No such file or directory"]


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes(HUNAN.encode("gbk"))
    with pytest.raises(CampaignFileError) as caught:
        load_campaign(path)
    assert caught.value.errors == ["(file): not UTF-8 text"]


def test_malformed_toml_is_refused_with_the_line(tmp_path: Path) -> None:
    exc = refused(tmp_path, edited('case_prefix = "HN2018"', 'case_prefix = "HN2018'))
    assert len(exc.errors) == 1
    assert exc.errors[0].startswith("(file): not valid TOML: ")
    assert "line 4" in exc.errors[0]


# --- one problem at a time, each named by its field path ------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            'timezone = "Asia/Shanghai"\n', "", "timezone: Field required", id="missing field"
        ),
        pytest.param(
            'name_zh = "株洲市"\n',
            "",
            "prefectures.1.name_zh: Field required",
            id="missing nested field",
        ),
        pytest.param(
            'timezone = "Asia/Shanghai"',
            'timezone = "Asia/Shanghia"',
            "timezone: unknown IANA time zone 'Asia/Shanghia', e.g. 'Asia/Shanghai'",
            id="bad time zone",
        ),
        pytest.param(
            'timezone = "Asia/Shanghai"',
            'timezone = "+08:00"',
            "timezone: unknown IANA time zone '+08:00'",
            id="an offset is not a time zone",
        ),
        pytest.param(
            'judge = ["judgment"]',
            'judge = ["judgement"]',
            "windows.judge: unknown phase 'judgement'",
            id="unknown phase in windows",
        ),
        pytest.param(
            'judge = ["judgment"]',
            "judge = []",
            "windows.judge: name at least one phase",
            id="empty window",
        ),
        pytest.param(
            'judge = ["judgment"]\n',
            "",
            "windows: no window for event 'judge'",
            id="event without a window",
        ),
        pytest.param(
            'judge = ["judgment"]',
            'judge = ["judgment"]\npatrol = ["survey"]',
            "windows.patrol.[key]: Input should be",
            id="unknown event in windows",
        ),
        pytest.param(
            'code = "430200"',
            'code = "430100"',
            "prefectures: '430100' appears twice",
            id="duplicate prefecture codes",
        ),
        pytest.param(
            'code = "430200"',
            'code = "440200"',
            "prefectures: 440200 is not a prefecture of province 430000",
            id="prefecture of another province",
        ),
        pytest.param(
            'code = "430200"',
            'code = "43020"',
            "prefectures.1.code: String should match pattern",
            id="malformed code",
        ),
        pytest.param(
            "start = 2018-04-01\ndeadline = 2018-04-05",
            "start = 2018-04-06\ndeadline = 2018-04-05",
            "phases.2.deadline: deadline 2018-04-05 is before start 2018-04-06",
            id="deadline before start",
        ),
        pytest.param(
            "deadline = 2018-03-10",
            'deadline = "the tenth of March"',
            "phases.0.deadline: Input should be a valid date",
            id="deadline not a date",
        ),
        pytest.param(
            'id = "judgment"',
            'id = "survey"',
            "phases: 'survey' appears twice",
            id="duplicate phase ids",
        ),
        pytest.param(
            'pledge_cap_phase = "judgment"',
            'pledge_cap_phase = "summry"',
            "policy.deadlines.pledge_cap_phase: unknown phase 'summry'",
            id="unknown cap phase",
        ),
        pytest.param(
            'id = "cac_province"',
            'id = "system"',
            "roles: 'system' is built in and cannot be declared",
            id="system role declared",
        ),
        pytest.param(
            'scope = "province"',
            'scope = "nation"',
            "roles.2.scope: Input should be 'prefecture' or 'province'",
            id="unknown scope",
        ),
        pytest.param(
            'events = ["take_down", "return_for_rectification", "refer"]',
            'events = ["take_down", "return_for_rectification", "refer", "pardon"]',
            "roles.2.events.3: Input should be",
            id="unknown event of a role",
        ),
        pytest.param(
            'id = "other"',
            'id = "misc"',
            "harm_categories: an 'other' category is required",
            id="no 'other' category",
        ),
        pytest.param(
            "min_officers = 2",
            "min_officers = 0",
            "policy.interview.min_officers: Input should be greater than or equal to 1",
            id="out of range parameter",
        ),
        pytest.param(
            "min_officers = 2",
            "min_officers = 2\nmin_officer = 2",
            "policy.interview.min_officer: Extra inputs are not permitted",
            id="typo in a key",
        ),
    ],
)
def test_a_bad_field_is_named_by_its_path(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    exc = refused(tmp_path, edited(old, new))
    assert any(e.startswith(expected) for e in exc.errors), exc.errors


def test_every_problem_is_listed_each_on_its_own(tmp_path: Path) -> None:
    text = edited('judge = ["judgment"]', 'judge = ["judgement"]')
    text = text.replace('code = "430200"', 'code = "430100"')
    text = text.replace('pledge_cap_phase = "judgment"', 'pledge_cap_phase = "summry"')
    text = text.replace("start = 2018-04-01", "start = 2018-04-06")
    exc = refused(tmp_path, text)
    assert sorted(exc.errors) == sorted(
        [
            "phases.2.deadline: deadline 2018-04-05 is before start 2018-04-06",
            "prefectures: '430100' appears twice",
            "windows.judge: unknown phase 'judgement'",
            "policy.deadlines.pledge_cap_phase: unknown phase 'summry'",
        ]
    )


def test_field_errors_are_listed_together(tmp_path: Path) -> None:
    text = edited('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"')
    text = text.replace('case_prefix = "HN2018"', 'case_prefix = "hn"')
    text = text.replace("min_officers = 2", "min_officers = -1")
    exc = refused(tmp_path, text)
    assert [e.split(":")[0] for e in exc.errors] == [
        "case_prefix",
        "timezone",
        "policy.interview.min_officers",
    ]


def test_parse_campaign_names_its_source() -> None:
    data = hunan_data()
    del data["phases"]
    with pytest.raises(CampaignFileError) as caught:
        parse_campaign(data, "api:test")
    assert caught.value.source == "api:test"
    assert caught.value.errors == ["phases: Field required"]
    with pytest.raises(CampaignFileError) as caught:
        parse_campaign(["not", "a", "table"])
    assert caught.value.source == "<data>"
    assert caught.value.errors[0].startswith("(top level): ")
