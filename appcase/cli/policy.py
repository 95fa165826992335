"""``appcase policy explain``: what the disposition policy says, and why.

For findings given on the command line, or for a case (its latest judgment's findings, or
findings given), print the minimum disposition, whether to refer to the judiciary and every
rule that fired with the section of the source document it comes from. The rules are in
:mod:`appcase.policies.disposition`, asked through :mod:`appcase.workflow.explain`; this
module only parses and prints.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from appcase.cli.app import App, InstantType, emit, pass_app, table
from appcase.cli.events import parse_finding
from appcase.errors import InvalidInput

if TYPE_CHECKING:
    from appcase.workflow.explain import Explanation

__all__ = ["COMMANDS"]

DISPOSITION_ZH = {
    "no_violation": "无违规",
    "interview_rectify": "约谈整改",
    "takedown": "关停下架",
}


@click.group("policy")
def policy_group() -> None:
    """The campaign's policies as code: ask what they say.

    \b
    Example:
      appcase policy explain --finding vulgar_pornographic:severe:1:illegal
    """


@policy_group.command("explain")
@click.option(
    "--finding",
    "findings",
    multiple=True,
    metavar="CAT:SEV[:N,…][:illegal]",
    help="A finding (harm category, severity minor|serious|severe, evidence numbers, "
    "'illegal' if suspected illegal); repeat for several.",
)
@click.option(
    "--prior-cases",
    type=click.IntRange(min=0),
    help="Earlier interview or takedown judgments of the same app or operator [default 0; "
    "with --case, read from the database].",
)
@click.option("--lacking-responsibility", is_flag=True, help="主体责任落实严重不到位.")
@click.option(
    "--schools",
    is_flag=True,
    default=None,
    help="The app is used by schools [with --case, read from the ledger].",
)
@click.option("--case", "case_id", metavar="CASE", help="Explain for this case.")
@click.option(
    "--at",
    type=InstantType(),
    help="With --case: judge as of this instant (prior cases before it) [default: the "
    "latest judgment's time when its findings are used, else now].",
)
@click.option(
    "--campaign-file",
    metavar="FILE|ID",
    help="Without --case: use this campaign file or built-in id instead of the database's.",
)
@pass_app
def explain_command(
    app: App,
    findings: tuple[str, ...],
    prior_cases: int | None,
    lacking_responsibility: bool,
    schools: bool | None,
    case_id: str | None,
    at: datetime | None,
    campaign_file: str | None,
) -> None:
    """Show the minimum disposition, the referral and every rule that fired.

    Without --case the findings and circumstances are all given here; with --case the
    circumstances (prior cases, school use) come from the database and the findings from
    the case's latest judgment unless given.

    \b
    Examples:
      appcase policy explain --finding vulgar_pornographic:severe:1:illegal
      appcase policy explain --finding inciting_violence:serious --prior-cases 1 --schools
      appcase policy explain --case HN2018-430100-0001
      appcase --json policy explain --case HN2018-430100-0001 --finding other:minor:2
    """
    from appcase.policies.campaign import load_campaign
    from appcase.workflow.explain import explain_case, explain_findings

    given = [parse_finding(f) for f in findings]
    if case_id is not None:
        if campaign_file is not None:
            raise InvalidInput("--campaign-file cannot be used with --case: the case's is used")
        if prior_cases is not None or schools is not None:
            raise InvalidInput(
                "with --case, prior cases and school use are read from the database; "
                "drop --prior-cases and --schools"
            )
        explained = explain_case(
            app.engine(),
            case_id,
            given,
            seriously_lacking_responsibility=lacking_responsibility,
            at=at,
        )
    else:
        if at is not None:
            raise InvalidInput("--at needs --case")
        camp = load_campaign(campaign_file) if campaign_file else app.engine().campaign
        explained = explain_findings(
            camp,
            given,
            prior_cases=prior_cases or 0,
            seriously_lacking_responsibility=lacking_responsibility,
            used_by_schools=bool(schools),
        )
    body = _body(explained)
    emit(app, body, _render(body))


def _body(explained: Explanation) -> dict[str, Any]:
    result = explained.result
    record = result.as_record()
    body = {
        "campaign": explained.campaign_id,
        "policy_version": result.policy_version,
        "case": explained.case_id,
        "findings_from": explained.source,
        "findings": [
            {
                "harm_category": f.harm_category,
                "severity": f.severity.value,
                "suspected_illegal": f.suspected_illegal,
                "evidence_refs": list(f.evidence_refs),
            }
            for f in explained.findings
        ],
        "factors": record["factors"],
        "minimum": result.minimum.value,
        "refer": result.refer,
        "rules": [
            {"id": r.id, "text": r.text, "source": r.source, "detail": r.detail}
            for r in result.rules
        ],
    }
    if explained.recorded is not None:
        body["recorded"] = explained.recorded
    return body


def _render(body: dict[str, Any]) -> str:
    f = body["factors"]
    head = f"policy {body['policy_version']} (campaign {body['campaign']})"
    if body["case"]:
        source = body["findings_from"]
        head += f", case {body['case']}, " + (
            "findings given on the command line"
            if source == "given"
            else f"findings from the {source}"
        )
    lines = [
        head,
        f"  findings: {len(body['findings'])}; prior cases: {f['prior_cases']}; "
        f"used by schools: {'yes' if f['used_by_schools'] else 'no'}; seriously lacking "
        f"responsibility: {'yes' if f['seriously_lacking_responsibility'] else 'no'}",
        f"minimum disposition: {body['minimum']} ({DISPOSITION_ZH[body['minimum']]})",
        f"refer to the judiciary: {'yes' if body['refer'] else 'no'}",
        "rules fired:",
        table(
            ["rule", "says", "source", "because"],
            [(r["id"], r["text"], r["source"], r["detail"]) for r in body["rules"]],
        ),
    ]
    recorded = body.get("recorded")
    if recorded:
        rules = ", ".join(r["id"] for r in recorded["rules"])
        lines.append(
            f"recorded with judgment #{recorded['seq']} (policy {recorded['version']}): "
            f"minimum {recorded['minimum']}, refer {'yes' if recorded['refer'] else 'no'}, "
            f"rules {rules}"
        )
    return "\n".join(lines)


COMMANDS = [policy_group]
