"""Override grants on the three faces: no command -- library, command line, HTTP -- acts
under an override its authoriser did not grant, and the three give the same answer to the
same scenario (the library's error type, the CLI's exit code, the HTTP status).

One template database holds a case per scenario and the grants, made by the library; each
face acts on its own copy. The engines run on the system clock (the command line's), so
that an expired grant is one made by an engine whose clock was ten days back.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from appcase.bootstrap import init_database, open_engine
from appcase.clock import FixedClock, SystemClock
from appcase.errors import AppcaseError, GuardRejected, InvalidInput, NotAuthorised
from appcase.workflow.engine import CaseEngine
from appcase.workflow.grants import grant_override, list_grants, revoke_grant
from appcase.workflow.tokens import issue_token
from tests.builders import (
    ACTORS,
    ADMIN,
    checkpoint,
    evidence,
    local,
    register_actors,
    run_cli,
    unique_app,
)

LATE = local(3, 11, 9)  # the patrol window (flag, add_evidence) closed on 2018-03-10
OUTCOMES: dict[str, tuple[type[AppcaseError] | None, int, int]] = {
    "ok": (None, 0, 201),
    "refused": (GuardRejected, 1, 422),
    "bad": (InvalidInput, 2, 400),
    "forbidden": (NotAuthorised, 1, 403),
}
"""Each outcome on the three faces: library error, exit code, HTTP status."""

# scenario -> (what it does, expected outcome); ``act`` is (kind, case label, actor, override)
Act = tuple[str, str, str, dict[str, Any] | None]


def _scenarios(g: dict[str, str]) -> dict[str, tuple[Act, str]]:
    return {
        "granted": (("flag", "ok", "cs-edu", {"grant": g["ok"]}), "ok"),
        "another case's grant": (("flag", "wrong_case", "cs-edu", {"grant": g["ok2"]}), "refused"),
        "another event's grant": (
            ("flag", "wrong_event", "cs-edu", {"grant": g["judge"]}),
            "refused",
        ),
        "expired": (("flag", "expired", "cs-edu", {"grant": g["expired"]}), "refused"),
        "revoked": (("flag", "revoked", "cs-edu", {"grant": g["revoked"]}), "refused"),
        "used": (("add_evidence", "used", "cs-edu", {"grant": g["used"]}), "refused"),
        "unknown grant": (
            ("flag", "unknown", "cs-edu", {"grant": "og-0000000000000000"}),
            "refused",
        ),
        "no override": (("flag", "bare", "cs-edu", None), "refused"),
        "self, may not override": (("flag", "self_edu", "cs-edu", {"reason": "迟报"}), "refused"),
        "self, may override": (("flag", "self_cac", "cs-cac", {"reason": "迟报"}), "ok"),
        "forged authoriser": (
            ("flag", "forged", "cs-edu", {"reason": "迟报", "authorised_by": "cs-cac"}),
            "bad",
        ),
        "grant by one who may not override": (("grant", "grantee", "cs-edu", None), "forbidden"),
        "grant outside the jurisdiction": (("grant", "grantee", "zz-cac", None), "forbidden"),
        "grant by the province": (("grant", "grantee", "prov", None), "ok"),
        "grant by an administrator": (("grant", "grantee", ADMIN, None), "forbidden"),
        "revoke another's grant": (("revoke", "spare", "prov", None), "forbidden"),
        "revoke one's own grant": (("revoke", "spare", "cs-cac", None), "ok"),
    }


@pytest.fixture(scope="module")
def template(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, str], dict[str, str]]:
    path = tmp_path_factory.mktemp("grants") / "template.sqlite"
    url = f"sqlite:///{path}"
    labels = ["ok", "ok2", "wrong_case", "wrong_event", "expired", "revoked", "used", "unknown"]
    labels += ["bare", "self_edu", "self_cac", "forged", "grantee"]
    past = FixedClock(datetime.now(UTC) - timedelta(days=10))
    engine = init_database(url, "hunan-2018", past)
    try:
        register_actors(engine)
        cases = {
            label: engine.survey(unique_app(n), actor="cs-cac", at=local(2, 20, 9)).id
            for n, label in enumerate(labels)
        }
        engine.fire(cases["used"], "flag", actor="cs-cac", payload=evidence(), at=local(3, 1))

        def grant(case: str, event: str = "flag", by: str = "cs-cac") -> str:
            return grant_override(engine, by=by, event=event, reason="经批准", case_id=case).id

        grants = {"expired": grant(cases["expired"])}
    finally:
        engine.close()
    engine = open_engine(url, "hunan-2018", SystemClock())
    try:
        grants |= {
            "ok": grant(cases["ok"]),
            "ok2": grant(cases["ok2"]),
            "judge": grant(cases["wrong_event"], "judge"),
            "revoked": grant(cases["revoked"]),
            "used": grant(cases["used"], "add_evidence"),
            "spare": grant(cases["grantee"], by="cs-cac"),
        }
        revoke_grant(engine, grants["revoked"], by="cs-cac")
        engine.fire(
            cases["used"],
            "add_evidence",
            actor="cs-edu",
            payload=evidence(),
            at=LATE,
            override_grant=grants["used"],
        )
    finally:
        engine.close()
    checkpoint(path)
    return path, cases, grants


Face = Callable[[Act, dict[str, str], dict[str, str]], Any]


def _library(engine: CaseEngine) -> Face:
    def act(a: Act, cases: dict[str, str], grants: dict[str, str]) -> Any:
        kind, label, actor, override = a
        try:
            if kind == "grant":
                grant_override(
                    engine, by=actor, event="judge", reason="经批准", case_id=cases[label]
                )
            elif kind == "revoke":
                revoke_grant(engine, grants[label], by=actor)
            else:
                engine.fire(
                    cases[label], kind, actor=actor, payload=evidence(), at=LATE, override=override
                )
        except AppcaseError as exc:
            return type(exc)
        return None

    return act


def _cli(db: Path) -> Face:
    def act(a: Act, cases: dict[str, str], grants: dict[str, str]) -> Any:
        kind, label, actor, override = a
        if kind == "grant":
            args = ["override", "grant", cases[label], "--event", "judge", "--reason", "经批准"]
        elif kind == "revoke":
            args = ["override", "revoke", grants[label]]
        else:
            args = [
                kind.replace("_", "-"),
                cases[label],
                "--category",
                "other",
                "--description",
                "截图",
            ]
            args += ["--at", LATE.isoformat()]
            if override and "grant" in override:
                args += ["--override", override["grant"]]
            elif override:
                args += ["--override-reason", override["reason"]]
                if "authorised_by" in override:
                    args += ["--override-by", override["authorised_by"]]
        result = run_cli(db, *args, actor=actor)
        assert "Traceback" not in result.output
        return result.exit_code

    return act


def _http(engine: CaseEngine) -> Face:
    from fastapi.testclient import TestClient

    from appcase.server import create_app

    client = TestClient(create_app(engine), raise_server_exceptions=False)
    tokens = {a: issue_token(engine, a, by=ADMIN).token for a in [*ACTORS, ADMIN]}

    def act(a: Act, cases: dict[str, str], grants: dict[str, str]) -> Any:
        kind, label, actor, override = a
        auth = {"Authorization": f"Bearer {tokens[actor]}"}
        if kind == "grant":
            body = {"event": "judge", "reason": "经批准"}
            r = client.post(f"/cases/{cases[label]}/overrides", headers=auth, json=body)
        elif kind == "revoke":
            r = client.delete(f"/overrides/{grants[label]}", headers=auth)
            return 201 if r.status_code == 200 else r.status_code  # (200: nothing created)
        else:
            body = {"payload": evidence(), "at": LATE.isoformat(), "override": override}
            r = client.post(f"/cases/{cases[label]}/events/{kind}", headers=auth, json=body)
        assert "Traceback" not in r.text
        return r.status_code

    return act


@pytest.mark.parametrize("face", ["library", "cli", "http"])
def test_no_face_acts_under_an_override_its_authoriser_did_not_grant(
    face: str, template: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    if face == "http":
        pytest.importorskip("fastapi")
    source, cases, grants = template
    db = tmp_path / "cases.sqlite"
    shutil.copyfile(source, db)
    engine = open_engine(f"sqlite:///{db}", "hunan-2018", SystemClock())
    try:
        act = {"library": _library, "http": _http}.get(face, lambda e: _cli(db))(engine)
        before = {label: engine.get(c) for label, c in cases.items()}
        for name, (a, outcome) in _scenarios(grants).items():
            column = {"library": 0, "cli": 1, "http": 2}[face]
            # (over HTTP the forged authoriser is refused by the body's schema: 400 too)
            assert act(a, cases, grants) == OUTCOMES[outcome][column], name
            if a[0] not in ("grant", "revoke") and outcome != "ok":
                assert engine.get(cases[a[1]]) == before[a[1]], f"{name}: something was written"
        flagged = engine.history(cases["ok"])[-1]
        assert flagged.override == {
            "reason": "经批准",
            "authorised_by": "cs-cac",
            "grant": grants["ok"],
            "waived": ["phase_window"],
        }
        assert engine.history(cases["self_cac"])[-1].override["authorised_by"] == "cs-cac"
        status = {g.id: g for g in list_grants(engine)}
        assert (status[grants["ok"]].status, status[grants["ok"]].used_by) == ("used", "cs-edu")
        assert status[grants["ok2"]].status == "active"  # refused elsewhere, not used up
        assert status[grants["spare"]].status == "revoked"
        assert json.dumps([g.model_dump(mode="json") for g in status.values()])
    finally:
        engine.close()


def test_a_survey_grant_serves_one_of_two_racing_surveys(
    make_engine: Callable[[str], CaseEngine], db_url: str
) -> None:
    """Two late surveys at once under one grant (a grant for a survey names the prefecture):
    one is written, the other refused as having used it; the grant records the winner."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    engine = make_engine(db_url)
    grant = grant_override(
        engine, by="cs-cac", event="survey", reason="补充摸排", prefecture="430100"
    )
    barrier = Barrier(2)

    def survey(n: int) -> str:
        barrier.wait()
        try:
            engine.survey(unique_app(n), actor="cs-edu", at=LATE, override_grant=grant.id)
        except GuardRejected as exc:
            return "refused: already used" if "already used" in exc.message else exc.message
        return "done"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(survey, [1, 2]))
    assert outcomes == ["done", "refused: already used"]
    [case] = engine.list_cases()
    [used] = list_grants(engine)
    assert (used.status, used.used_by) == ("used", "cs-edu")
    assert engine.history(case.id)[0].override["grant"] == grant.id
