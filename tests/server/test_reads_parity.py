"""The reads over HTTP answer what the command line's reads answer: ``list`` with each of
its filters (and ``--as-of``), ``show``, ``history`` and ``feed``, compared as JSON on two
copies of one SQLite file (the command line in process through click's ``CliRunner``, the
HTTP side through FastAPI's ``TestClient``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from appcase.bootstrap import open_engine
from appcase.server import create_app
from tests.builders import checkpoint, cli_database, run_cli
from tests.server.conftest import issue_tokens

AS_OF = "2018-03-13T00:00:00+08:00"
EXIT_OF = {200: 0, 422: 1, 400: 2, 404: 2, 409: 3}
"""A status and the exit code that means the same (docs/http.md)."""

LISTS: list[tuple[list[str], dict[str, Any]]] = [
    ([], {}),
    (["--state", "pledged"], {"state": "pledged"}),
    (["--state", "judged", "--state", "pledged"], {"state": ["judged", "pledged"]}),
    (["--judicial", "referred_to_judiciary"], {"judicial": "referred_to_judiciary"}),
    (["--referred"], {"referred": "true"}),
    (["--prefecture", "430100"], {"prefecture": "430100"}),
    (["--prefecture", "430200"], {"prefecture": "430200"}),
    (["--overdue"], {"overdue": "true"}),
    (["--overdue-at", "2018-03-20T00:00+08:00"], {"overdue_at": "2018-03-20T00:00:00+08:00"}),
    (["--overdue-at", "2018-03-29T00:00+08:00"], {"overdue_at": "2018-03-29T00:00:00+08:00"}),
    (["--phase", "judgment"], {"phase": "judgment"}),
    (["--phase", "survey"], {"phase": "survey"}),
    (["--text", "0003"], {"text": "0003"}),
    (["--sort", "state"], {"sort": "state"}),
    (["--sort", "last-event", "--limit", "3"], {"sort": "last-event", "limit": 3}),
    (["--sort", "prefecture", "--state", "judged"], {"sort": "prefecture", "state": "judged"}),
]
"""``appcase list`` options and the same filters as ``GET /cases`` query parameters."""

AS_OF_LISTS: list[tuple[list[str], dict[str, Any]]] = [
    ([], {}),
    (["--state", "judged"], {"state": "judged"}),
    (["--referred"], {"referred": "true"}),
    (["--prefecture", "430100", "--limit", "2"], {"prefecture": "430100", "limit": 2}),
    (["--text", "0001", "--as-recorded"], {"text": "0001", "as_recorded": "true"}),
]
"""``appcase list --as-of`` and ``GET /cases-as-of``."""

REFUSED: list[tuple[list[str], dict[str, Any]]] = [
    (["--as-of", AS_OF, "--phase", "judgment"], {"at": AS_OF, "phase": "judgment"}),
    (["--as-of", AS_OF, "--overdue"], {"at": AS_OF, "overdue": "true"}),
    (["--as-of", AS_OF, "--sort", "state"], {"at": AS_OF, "sort": "state"}),
    (["--as-of", AS_OF, "--state", "new"], {"at": AS_OF, "state": "new"}),
    (["--state", "new"], {"state": "new"}),
    (["--state", "nonsense"], {"state": "nonsense"}),
    (["--sort", "nonsense"], {"sort": "nonsense"}),
    (["--limit", "0"], {"limit": 0}),
    (["--overdue-at", "2018-03-20T00:00"], {"overdue_at": "2018-03-20T00:00:00"}),
    (["--prefecture-typo", "430100"], {"prefecture_typo": "430100"}),
]
"""Filters both refuse (exit 2, status 400): those that do not apply to a past state, an
unknown state, sort or option, a limit of 0, a naive instant."""

REFUSED_AS_OF: list[tuple[list[str], dict[str, Any]]] = [
    (["--phase", "judgment"], {"phase": "judgment"}),
    (["--overdue"], {"overdue": "true"}),
    (["--sort", "state"], {"sort": "state"}),
]
"""Filters that do not apply to a past state: refused by both (exit 2, status 400)."""


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, TestClient, dict]]:
    """The command line's copy of the standard cases, an HTTP client on another copy (as
    ``zz-cac``: reads are open to every officer), and the case ids."""
    directory = tmp_path_factory.mktemp("reads")
    template, ids = cli_database(directory)
    cli_db, http_db = directory / "cli.sqlite", directory / "http.sqlite"
    shutil.copyfile(template, cli_db)
    shutil.copyfile(template, http_db)
    checkpoint(cli_db)
    engine = open_engine(f"sqlite:///{http_db}")  # the system clock, as the command line's
    try:
        token = issue_tokens(engine, ["zz-cac"])["zz-cac"]
        with TestClient(
            create_app(engine),
            headers={"Authorization": f"Bearer {token}"},
            raise_server_exceptions=False,
        ) as client:
            yield cli_db, client, ids
    finally:
        engine.close()


def _cli(db: Path, *args: str) -> tuple[int, Any]:
    result = run_cli(db, *args, actor="zz-cac", as_json=True)
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else None


@pytest.mark.parametrize(("options", "query"), LISTS, ids=lambda v: str(v))
def test_list_filters_are_the_command_lines(
    faces: tuple[Path, TestClient, dict], options: list[str], query: dict[str, Any]
) -> None:
    cli_db, client, _ids = faces
    code, listed = _cli(cli_db, "list", *options)
    r = client.get("/cases", params=query)
    assert (code, r.status_code) == (0, 200), r.text
    assert r.json() == listed


def test_the_filters_select_something(faces: tuple[Path, TestClient, dict]) -> None:
    """The comparisons above are not all of empty lists."""
    _cli_db, client, ids = faces
    counts = {str(q): len(client.get("/cases", params=q).json()) for _o, q in LISTS}
    assert counts["{}"] == len(ids)
    assert sum(0 < n < len(ids) for n in counts.values()) >= 8, counts


@pytest.mark.parametrize(("options", "query"), AS_OF_LISTS, ids=lambda v: str(v))
def test_list_as_of_is_the_command_lines(
    faces: tuple[Path, TestClient, dict], options: list[str], query: dict[str, Any]
) -> None:
    cli_db, client, _ids = faces
    code, listed = _cli(cli_db, "list", "--as-of", AS_OF, *options)
    r = client.get("/cases-as-of", params={"at": AS_OF, **query})
    assert (code, r.status_code) == (0, 200), r.text
    assert r.json() == listed
    # none is referred, and every event was recorded later: there, an empty list is the
    # answer (ignoring the filter would list every case)
    assert listed or {"referred", "as_recorded"} & set(query)


@pytest.mark.parametrize(("options", "query"), REFUSED_AS_OF, ids=lambda v: str(v))
def test_filters_of_the_present_are_refused_with_as_of(
    faces: tuple[Path, TestClient, dict], options: list[str], query: dict[str, Any]
) -> None:
    cli_db, client, _ids = faces
    code, _out = _cli(cli_db, "list", "--as-of", AS_OF, *options)
    r = client.get("/cases-as-of", params={"at": AS_OF, **query})
    assert (code, r.status_code) == (2, 400), r.text


@pytest.mark.parametrize(("options", "query"), REFUSED, ids=lambda v: str(v))
def test_both_refuse_the_same_filters(
    faces: tuple[Path, TestClient, dict], options: list[str], query: dict[str, Any]
) -> None:
    cli_db, client, _ids = faces
    code = run_cli(cli_db, "list", *options, actor="zz-cac").exit_code
    path = "/cases-as-of" if "--as-of" in options else "/cases"
    r = client.get(path, params=query)
    assert (code, r.status_code) == (2, 400), r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_show_history_and_feed_are_the_command_lines(faces: tuple[Path, TestClient, dict]) -> None:
    cli_db, client, ids = faces
    for case_id in (ids["pledged"], ids["escalated"]):
        assert client.get(f"/cases/{case_id}").json() == _cli(cli_db, "show", case_id)[1]
        past = client.get(f"/cases/{case_id}/as-of", params={"at": AS_OF}).json()
        assert past == _cli(cli_db, "show", case_id, "--as-of", AS_OF)[1]
        # the command line's timeline adds what a reader needs (local times, names) to
        # each event: every field of the HTTP answer is there, equal
        history = client.get(f"/cases/{case_id}/history").json()
        timeline = _cli(cli_db, "history", case_id)[1]
        assert history == [{k: e[k] for k in h} for h, e in zip(history, timeline, strict=True)]
    page = client.get("/events", params={"after": 3, "limit": 5}).json()
    result = run_cli(cli_db, "feed", "--after", "3", "--limit", "5", actor="zz-cac")
    assert page["events"] == [json.loads(line) for line in result.stdout.splitlines()]
    unknown = client.get("/cases/HN2018-430100-0999")
    assert (unknown.status_code, _cli(cli_db, "show", "HN2018-430100-0999")[0]) == (404, 2)


def test_policy_explain_and_the_diagram_are_the_command_lines(
    faces: tuple[Path, TestClient, dict],
) -> None:
    cli_db, client, ids = faces
    for case_id in (ids["judged"], ids["judged_illegal"], ids["flagged"]):
        code, explained = _cli(cli_db, "policy", "explain", "--case", case_id)
        r = client.post(f"/cases/{case_id}/explain", json={})
        assert EXIT_OF[r.status_code] == code, r.text  # the flagged case has no judgment: 2
        assert code != 0 or r.json() == explained
    finding = {"harm_category": "vulgar_pornographic", "severity": "severe", "evidence_refs": [1]}
    code, explained = _cli(
        cli_db, "policy", "explain", "--case", ids["flagged"], "--finding",
        "vulgar_pornographic:severe:1", "--at", "2018-03-12T10:00+08:00",
    )  # fmt: skip
    r = client.post(
        f"/cases/{ids['flagged']}/explain",
        json={"findings": [finding], "at": "2018-03-12T10:00:00+08:00"},
    )
    assert (code, r.status_code) == (0, 200), r.text
    assert r.json() == explained
    code, explained = _cli(
        cli_db, "policy", "explain", "--finding", "vulgar_pornographic:severe:1:illegal",
        "--prior-cases", "1", "--schools", "--lacking-responsibility",
    )  # fmt: skip
    r = client.post(
        "/policy/explain",
        json={
            "findings": [finding | {"suspected_illegal": True}],
            "prior_cases": 1,
            "used_by_schools": True,
            "lacking_responsibility": True,
        },
    )
    assert (code, r.status_code) == (0, 200), r.text
    assert r.json() == explained
    assert explained["refer"] is True
    bad = client.post("/policy/explain", json={"findings": [finding | {"harm_category": "x"}]})
    assert (bad.status_code, _cli(cli_db, "policy", "explain", "--finding", "x:severe")[0]) == (
        400,
        2,
    )
    for fmt in ("mermaid", "dot"):
        drawn = run_cli(cli_db, "diagram", "--format", fmt).stdout
        r = client.get("/diagram", params={"format": fmt})
        assert r.headers["content-type"].startswith("text/plain")
        assert r.text == drawn
