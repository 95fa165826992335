"""``appcase policy``: what the disposition policy says, whether a campaign file holds
together, and what an amended policy would have changed.

* ``explain``: for findings given on the command line, or for a case, the minimum
  disposition, the referral and every rule that fired with its source section
  (:mod:`appcase.workflow.explain`);
* ``check CAMPAIGN_FILE``: every property of :mod:`appcase.testing` on a campaign file;
* ``what-if --campaign AMENDED_FILE``: every recorded judgment re-evaluated under an amended
  policy, writing nothing (:mod:`appcase.workflow.whatif`).

This module only parses and prints.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from appcase.cli.app import App, InstantType, emit, pass_app, table
from appcase.cli.events import parse_finding
from appcase.cli.exits import REFUSED
from appcase.errors import InvalidInput

if TYPE_CHECKING:
    from appcase.workflow.whatif import WhatIfReport

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
    Examples:
      appcase policy explain --finding vulgar_pornographic:severe:1:illegal
      appcase policy check my-campaign.toml --examples 500 --seed 7
      appcase policy what-if --campaign amended.toml --prefecture 430100
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
    the case's latest judgment unless given. Prior cases are the judgments of interview or
    takedown of the same app or operator before --at, an earlier judgment of this very case
    included (rule D3): on a case already judged, that judgment counts.

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
    body = explained.as_dict()
    emit(app, body, _render(body))


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


@policy_group.command("check")
@click.argument("campaign_file", metavar="CAMPAIGN_FILE")
@click.option(
    "--examples",
    type=click.IntRange(min=1, max=100_000),
    default=200,
    show_default=True,
    help="Random examples per searched property (one state-machine run per 100).",
)
@click.option(
    "--seed",
    type=int,
    help="Random seed: the same seed and examples give the same counterexample "
    "[default: derandomised, the same examples every run].",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
@click.option(
    "--property",
    "only",
    multiple=True,
    metavar="NAME",
    help="Run only this property (repeat for several).",
)
@pass_app
def check_command(
    app: App,
    campaign_file: str,
    examples: int,
    seed: int | None,
    as_json: bool,
    only: tuple[str, ...],
) -> None:
    """Property-test a campaign file: do its rules and windows hold together?

    Runs every property of appcase.testing on CAMPAIGN_FILE (a path, or a built-in id such
    as hunan-2018) and prints, per property, that it holds over how many examples, or the
    smallest counterexample found: the findings, the disposition each gave, the rules that
    fired with their source sections, and the settings of the file involved. Exit 0 when
    every property holds, 1 when one fails, 2 when the file itself is malformed. Progress
    goes to standard error.

    \b
    Examples:
      appcase policy check hunan-2018
      appcase policy check docs/examples/jiangnan-2024.toml --examples 1000 --seed 7
      appcase policy check my.toml --property disposition_monotone --json
    """
    from appcase.policies.campaign import load_campaign

    app.json = app.json or as_json
    camp = load_campaign(campaign_file)
    try:
        from appcase.testing import PROPERTIES, check_campaign
    except ImportError:  # hypothesis is an optional extra
        raise InvalidInput(
            "policy check needs hypothesis", "pip install 'appcase[testing]'"
        ) from None
    names = [p.name for p in PROPERTIES]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise InvalidInput(f"unknown properties {', '.join(unknown)}; known: {', '.join(names)}")
    started = time.monotonic()

    def progress(name: str, done: int, planned: int) -> None:
        click.echo(f"  {name}: {done}/{planned} examples", err=True)

    results = []
    for prop in PROPERTIES:
        if only and prop.name not in only:
            continue
        click.echo(f"checking {prop.name} ...", err=True)
        results.extend(
            check_campaign(camp, examples=examples, seed=seed, only=[prop.name], progress=progress)
        )
    elapsed = time.monotonic() - started
    failed = [r for r in results if not r.holds]
    body = {
        "campaign": camp.id,
        "file": campaign_file,
        "policy_version": camp.policy.version,
        "examples": examples,
        "seed": seed,
        "seconds": round(elapsed, 2),
        "holds": not failed,
        "properties": [r.as_dict() for r in results],
    }
    lines = [f"campaign {camp.id} (policy {camp.policy.version}), {campaign_file}:"]
    lines += [r.report() for r in results]
    verdict = (
        "every property holds"
        if not failed
        else f"{len(failed)} of {len(results)} properties fail: "
        + ", ".join(r.name for r in failed)
    )
    seeded = f"--seed {seed}" if seed is not None else "derandomised"
    lines.append(f"{verdict} ({seeded}, {elapsed:.1f} s)")
    emit(app, body, "\n".join(lines))
    if failed:
        sys.stdout.flush()
        click.get_current_context().exit(REFUSED)


@policy_group.command("what-if")
@click.option(
    "--campaign",
    "amended_file",
    required=True,
    metavar="AMENDED_FILE",
    help="The amended campaign file: the database's campaign with another policy.",
)
@click.option(
    "--prefecture",
    "prefectures",
    multiple=True,
    metavar="CODE",
    help="Only cases of this prefecture (GB/T 2260 code); repeat for several.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
@pass_app
def what_if_command(
    app: App, amended_file: str, prefectures: tuple[str, ...], as_json: bool
) -> None:
    """Re-evaluate every recorded judgment under an amended policy, writing nothing.

    For each judgment: the disposition recorded, the old and the new minimum, the rules that
    fired under each; then the judgments whose recorded disposition the amended policy would
    refuse, and counts per prefecture and disposition. The amended file must describe the
    same campaign as the database's (only its [policy] may differ); exit 2 otherwise, with
    what differs.

    \b
    Examples:
      appcase policy what-if --campaign amended.toml
      appcase policy what-if --campaign amended.toml --prefecture 430100 --json
    """
    from appcase.policies.campaign import load_campaign
    from appcase.workflow.whatif import what_if

    app.json = app.json or as_json
    amended = load_campaign(amended_file)
    report = what_if(app.engine(), amended, prefectures=prefectures)
    body = _what_if_body(report)
    emit(app, body, _render_what_if(report))


def _what_if_body(report: WhatIfReport) -> dict[str, Any]:
    return {
        "campaign": report.campaign_id,
        "old_policy_version": report.old_version,
        "new_policy_version": report.new_version,
        "judgments": [j.as_dict() for j in report.judgments],
        "changed": [j.case_id for j in report.changed],
        "refused": [{"case_id": j.case_id, "seq": j.seq, "why": j.refused} for j in report.refused],
        "counts": report.counts,
    }


def _render_what_if(report: WhatIfReport) -> str:
    lines = [
        f"campaign {report.campaign_id}: policy {report.old_version} → {report.new_version}; "
        f"{len(report.judgments)} judgment(s), {len(report.changed)} with another minimum, "
        f"{len(report.refused)} the amended policy would refuse",
        table(
            ["case", "#", "recorded", "old minimum", "new minimum", "old rules", "new rules"],
            [
                (
                    j.case_id,
                    j.seq,
                    j.recorded,
                    j.old_minimum,
                    j.new_minimum + (" *" if j.changed else ""),
                    ",".join(j.old_rules),
                    ",".join(j.new_rules),
                )
                for j in report.judgments
            ],
        ),
        "(* the minimum changed)",
    ]
    if report.refused:
        lines.append("would now be refused:")
        lines += [f"  {j.case_id} #{j.seq}: {j.refused}" for j in report.refused]
    rows = [
        (code, d, c["recorded"], c["old_minimum"], c["new_minimum"])
        for code, per in report.counts.items()
        for d, c in per.items()
    ]
    lines.append("per prefecture and disposition (judgments):")
    lines.append(
        table(["prefecture", "disposition", "recorded", "old minimum", "new minimum"], rows)
    )
    return "\n".join(lines)


COMMANDS = [policy_group]
