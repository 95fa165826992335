"""One command per event: ``survey``, ``flag``, ``judge``, … ``refer``.

Each builds the event's payload from its options (and optionally ``--payload FILE.json``,
whose fields the options then extend), calls the engine and prints the event written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click

from appcase.cli.app import App, InstantType, emit, pass_app, read_json_file
from appcase.cli.overrides import override_from_options, override_options
from appcase.errors import InvalidInput
from appcase.states import Disposition, EscalationGround, Event, Severity

if TYPE_CHECKING:
    from appcase.workflow.views import EventView

__all__ = ["COMMANDS", "TABLE_WORDS", "parse_finding"]

TABLE_WORDS: dict[Event, tuple[str, str]] = {
    Event.FLAG: ("record evidence of harmful content (取证)", "surveyed, rectified → flagged"),
    Event.ADD_EVIDENCE: (
        "join more evidence to the case's open flag (补充取证)",
        "flagged → flagged",
    ),
    Event.JUDGE: ("judge the evidence and choose a disposition (研判)", "flagged → judged"),
    Event.DISMISS: ("close a judgment of no violation", "judged → surveyed"),
    Event.INTERVIEW: (
        "interview the operator and set a deadline (约谈、限期整改)",
        "judged → interviewed",
    ),
    Event.PLEDGE: ("record the signed rectification pledge (整改承诺书)", "interviewed → pledged"),
    Event.RECTIFY: ("verify every commitment by the deadline (整改到位)", "pledged → rectified"),
    Event.ESCALATE: (
        "propose takedown to the province (提出下架、关停建议)",
        "judged, interviewed, pledged → escalated_for_takedown",
    ),
    Event.TAKE_DOWN: (
        "take the app down or shut its service (下架、关停服务)",
        "escalated_for_takedown → taken_down",
    ),
    Event.RETURN_FOR_RECTIFICATION: (
        "send the case back for rectification (退回整改)",
        "escalated_for_takedown → interviewed",
    ),
    Event.REFER: (
        "refer a suspected crime to the judiciary (交由司法部门)",
        "not_referred → referred_to_judiciary",
    ),
}
"""Each event command's summary and move, in the words of the transition table
(:mod:`appcase.workflow.table`), copied here so that ``--help`` loads no workflow;
``tests/cli/test_lazy_help.py`` checks that they still match the table."""

INSTANT = InstantType()

Builder = Callable[[dict[str, Any]], dict[str, Any]]


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--at", type=INSTANT, help="When it happened, with offset (default: now)."),
        click.option("--reason", help="Why (required by escalate, return, refer)."),
        click.option(
            "--payload", "payload_file", metavar="FILE", help="JSON payload file ('-' for stdin)."
        ),
        click.option(
            "--idempotency-key",
            metavar="KEY",
            help="Retry-safe key: a repeat returns the first result.",
        ),
        click.option(
            "--expected-version",
            type=click.IntRange(min=1),
            metavar="N",
            help="Refuse with exit 3 unless the case is still at version N "
            "(the version 'appcase show' printed).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return override_options(func)


def _print_event(app: App, view: EventView) -> None:
    text = (
        f"{view.case_id} #{view.seq}: {view.event} {view.from_state} → {view.to_state}"
        + (
            f"  (override: {view.override['reason']}; by {view.override['authorised_by']})"
            if view.override
            else ""
        )
        + f"\n  hash {view.hash}"
    )
    if view.event == "judge" and "policy" in view.payload:
        pol = view.payload["policy"]
        rules = ", ".join(r["id"] for r in pol["rules"])
        refer = "yes" if pol["refer"] else "no"
        text += (
            f"\n  policy {pol['version']}: minimum {pol['minimum']}, refer {refer}, rules {rules}"
        )
    emit(app, view, text)


def _event_command(event: Event, name: str, options: list[Any], build: Builder) -> click.Command:
    summary, moves = TABLE_WORDS[event]

    @click.argument("case_id", metavar="CASE")
    @_common
    @pass_app
    def command(app: App, /, case_id: str, **kw: Any) -> None:
        payload = read_json_file(kw.pop("payload_file")) if kw.get("payload_file") else {}
        kw.pop("payload_file", None)
        at, reason = kw.pop("at"), kw.pop("reason")
        key = kw.pop("idempotency_key")
        override = override_from_options(kw)
        expected_version = kw.pop("expected_version")
        payload |= {k: v for k, v in build(kw).items() if v not in (None, (), [])}
        view = app.engine().fire(
            case_id,
            event,
            actor=app.actor(),
            payload=payload,
            at=at,
            reason=reason,
            override=override,
            idempotency_key=key,
            expected_version=expected_version,
        )
        _print_event(app, view)

    for option in reversed(options):
        command = option(command)
    command.__doc__ = (
        f"{summary[0].upper()}{summary[1:]}.\n\n"
        f"Moves {moves}.\n\n\b\nExample:\n  appcase --actor ACTOR {name} "
        f"HN2018-430100-0001 {EXAMPLES.get(event, '')}"
    )
    return click.command(name)(command)


EXAMPLES = {
    Event.FLAG: "--category vulgar_pornographic --description '低俗图片' --at 2018-03-01T10:00+08:00",
    Event.ADD_EVIDENCE: "--category inciting_violence --description '视频含教唆暴力内容' "
    "--at 2018-03-02T10:00+08:00",
    Event.JUDGE: "--finding vulgar_pornographic:serious:1 --disposition interview_rectify "
    "--at 2018-03-12T10:00+08:00",
    Event.DISMISS: "--at 2018-03-12T10:00+08:00",
    Event.INTERVIEW: "--notice-at 2018-03-12T09:00+08:00 --held-at 2018-03-14T09:00+08:00 "
    "--place '市网信办会议室' --officer 张伟 --officer 李娜 --problem '传播低俗信息' --deadline 2018-03-28 "
    "--at 2018-03-14T11:00+08:00",
    Event.PLEDGE: "--signed-by 王经理 --signed-at 2018-03-14T11:00+08:00 "
    "--commitment '清理违规信息' --deadline 2018-03-28 --at 2018-03-14T12:00+08:00",
    Event.RECTIFY: "--verified 1 --at 2018-03-27T15:00+08:00",
    Event.ESCALATE: "--ground pledge_refused --reason '拒绝签订整改承诺书' "
    "--at 2018-03-15T10:00+08:00",
    Event.TAKE_DOWN: "--decision-no '湘网信〔2018〕12号' --measure takedown "
    "--at 2018-03-20T10:00+08:00",
    Event.RETURN_FOR_RECTIFICATION: "--reason '已主动整改，退回限期整改' --at 2018-03-20T10:00+08:00",
    Event.REFER: "--authority 长沙市公安局 --reason '涉嫌传播淫秽物品' --at 2018-03-20T10:00+08:00",
}


def _date(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidInput(f"{what} {value!r} is not a date like 2018-03-28") from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _flag(kw: dict[str, Any]) -> dict[str, Any]:
    if not kw["category"]:
        return {}
    item = {
        "harm_category": kw["category"],
        "description": kw["description"] or "",
        "source": kw["source"],
        "locator": kw["locator"] or "",
        "captured_at": _iso(kw["captured_at"]),
    }
    return {"evidence": [{k: v for k, v in item.items() if v is not None}]}


def parse_finding(text: str) -> dict[str, Any]:
    """Read a ``--finding`` option: ``CATEGORY:SEVERITY[:EVIDENCE,…][:illegal]``.

    Args:
        text: the option's value, e.g. ``vulgar_pornographic:serious:1,2:illegal``.

    Returns:
        The finding as a ``judge`` payload writes it: ``harm_category``, ``severity`` and,
        if given, ``evidence_refs`` and ``suspected_illegal``.

    Raises:
        InvalidInput: the value is not in that form, or names no known severity.
    """
    parts = text.split(":")
    if len(parts) < 2:
        raise InvalidInput(
            f"--finding {text!r}: write CATEGORY:SEVERITY[:EVIDENCE,…][:illegal], "
            "e.g. vulgar_pornographic:serious:1,2:illegal"
        )
    out: dict[str, Any] = {"harm_category": parts[0], "severity": parts[1]}
    for extra in parts[2:]:
        if extra == "illegal":
            out["suspected_illegal"] = True
        elif extra:
            try:
                out["evidence_refs"] = [int(x) for x in extra.split(",")]
            except ValueError:
                raise InvalidInput(
                    f"--finding {text!r}: evidence numbers must be integers"
                ) from None
    if out["severity"] not in {s.value for s in Severity}:
        raise InvalidInput(f"--finding {text!r}: severity must be minor, serious or severe")
    return out


def _judge(kw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"findings": [parse_finding(f) for f in kw["finding"]]}
    if kw["disposition"]:
        out["disposition"] = kw["disposition"]
    if kw["lacking_responsibility"]:
        out["seriously_lacking_responsibility"] = True
    return out


def _interview(kw: dict[str, Any]) -> dict[str, Any]:
    return {
        "notice_given_at": _iso(kw["notice_at"]),
        "held_at": _iso(kw["held_at"]),
        "place": kw["place"],
        "officers": list(kw["officer"]),
        "operator_representatives": list(kw["representative"]),
        "problems": list(kw["problem"]),
        "rectification_deadline": _date(kw["deadline"], "--deadline"),
    }


def _pledge(kw: dict[str, Any]) -> dict[str, Any]:
    return {
        "signed_by": kw["signed_by"],
        "signed_at": _iso(kw["signed_at"]),
        "commitments": list(kw["commitment"]),
        "deadline": _date(kw["deadline"], "--deadline"),
    }


def _rectify(kw: dict[str, Any]) -> dict[str, Any]:
    checks = [{"commitment": c, "verified": True} for c in kw["verified"]]
    checks += [{"commitment": c, "verified": False} for c in kw["not_verified"]]
    return {"checks": checks}


EVIDENCE_OPTIONS = [
    click.option("--category", help="Harm category id (see 'appcase campaign show')."),
    click.option("--description", help="What was seen."),
    click.option(
        "--source",
        type=click.Choice(["patrol", "hotline", "school", "media", "other"]),
        default="patrol",
        show_default=True,
    ),
    click.option("--locator", help="Where it can be found again (URL, screen, version)."),
    click.option("--captured-at", type=INSTANT, help="When it was captured."),
]
"""Options of ``flag`` and ``add-evidence``: one evidence item (more with ``--payload``)."""

EVENT_COMMANDS = [
    _event_command(
        Event.FLAG,
        "flag",
        EVIDENCE_OPTIONS,
        _flag,
    ),
    _event_command(Event.ADD_EVIDENCE, "add-evidence", EVIDENCE_OPTIONS, _flag),
    _event_command(
        Event.JUDGE,
        "judge",
        [
            click.option(
                "--finding",
                multiple=True,
                metavar="CAT:SEV[:N,…][:illegal]",
                help="A finding; repeat for several.",
            ),
            click.option("--disposition", type=click.Choice([d.value for d in Disposition])),
            click.option("--lacking-responsibility", is_flag=True, help="主体责任落实严重不到位."),
        ],
        _judge,
    ),
    _event_command(Event.DISMISS, "dismiss", [], lambda kw: {}),
    _event_command(
        Event.INTERVIEW,
        "interview",
        [
            click.option("--notice-at", type=INSTANT, help="When notice was given."),
            click.option("--held-at", type=INSTANT, help="When the interview was held."),
            click.option("--place"),
            click.option("--officer", multiple=True, help="Attending officer; at least two."),
            click.option("--representative", multiple=True, help="Operator's representative."),
            click.option("--problem", multiple=True, help="A problem pointed out."),
            click.option("--deadline", metavar="DATE", help="Rectification deadline (local date)."),
        ],
        _interview,
    ),
    _event_command(
        Event.PLEDGE,
        "pledge",
        [
            click.option("--signed-by"),
            click.option("--signed-at", type=INSTANT),
            click.option("--commitment", multiple=True, help="A commitment; repeat for several."),
            click.option("--deadline", metavar="DATE", help="Rectification deadline (local date)."),
        ],
        _pledge,
    ),
    _event_command(
        Event.RECTIFY,
        "rectify",
        [
            click.option(
                "--verified", multiple=True, metavar="N|TEXT", help="A commitment found done."
            ),
            click.option(
                "--not-verified",
                multiple=True,
                metavar="N|TEXT",
                help="A commitment found not done.",
            ),
        ],
        _rectify,
    ),
    _event_command(
        Event.ESCALATE,
        "escalate",
        [click.option("--ground", type=click.Choice([g.value for g in EscalationGround]))],
        lambda kw: {"ground": kw["ground"]},
    ),
    _event_command(
        Event.TAKE_DOWN,
        "take-down",
        [
            click.option("--decision-no", help="The decision document's number."),
            click.option(
                "--measure",
                type=click.Choice(["takedown", "service_shutdown", "takedown_and_shutdown"]),
            ),
        ],
        lambda kw: {"decision_no": kw["decision_no"], "measure": kw["measure"]},
    ),
    _event_command(Event.RETURN_FOR_RECTIFICATION, "return", [], lambda kw: {}),
    _event_command(
        Event.REFER,
        "refer",
        [click.option("--authority", help="Receiving authority, e.g. 长沙市公安局.")],
        lambda kw: {"authority": kw["authority"]},
    ),
]


@click.command("survey")
@click.option(
    "--app", "app_file", metavar="FILE", help="JSON file with the app's identity ('-' for stdin)."
)
@click.option("--name", help="The app's name.")
@click.option("--operator", help="The operating company.")
@click.option("--uscc", help="Unified social credit code (18 characters).")
@click.option("--icp", "icp_filing", help="ICP filing number, e.g. 湘ICP备18001234号-1.")
@click.option("--platform", multiple=True, help="Distribution platform; repeat for several.")
@click.option("--target-users", help="Who the app is for, e.g. 小学生.")
@click.option(
    "--schools/--no-schools", "used_by_schools", default=None, help="Whether schools use it."
)
@click.option("--prefecture", metavar="CODE", help="GB/T 2260 code of the prefecture, e.g. 430100.")
@click.option("--at", type=INSTANT, help="When it was surveyed, with offset (default: now).")
@click.option("--idempotency-key", metavar="KEY", help="Retry-safe key.")
@override_options
@pass_app
def survey_command(
    app: App,
    /,
    app_file: str | None,
    at: datetime | None,
    idempotency_key: str | None,
    **fields: Any,
) -> None:
    """List an app in the campaign's ledger (摸排建档): a new case.

    \b
    Example:
      appcase --actor cs-cac survey --name 星学口算 --operator 长沙星学教育科技有限公司 \\
        --uscc 914403001922038216 --prefecture 430100 --schools --at 2018-02-20T10:00+08:00

    After the survey window, --override names a survey grant for the prefecture
    ('appcase override grant --prefecture CODE --event survey').
    """
    override = override_from_options(fields)
    ident = read_json_file(app_file) if app_file else {}
    given = {k: v for k, v in fields.items() if v not in (None, ())}
    if "platform" in given:  # the option's name; the file's key stays as written
        given["platforms"] = list(given.pop("platform"))
    ident |= given
    view = app.engine().survey(
        ident, actor=app.actor(), at=at, override=override, idempotency_key=idempotency_key
    )
    emit(app, view, f"{view.id}: {view.app.name} ({view.app.operator}) → {view.state}")


COMMANDS = [survey_command, *EVENT_COMMANDS]
