"""Guards: plain functions of a :class:`GuardContext` returning the reasons they fail.

Every guard returns a list of :class:`~appcase.errors.Rejection` (empty when it holds);
the runner calls *all* guards of a transition and collects every rejection, so a refused
command says everything that is wrong at once. Guards are registered by name in
:data:`GUARDS`, the only place the table's guard names are resolved.

Some guards look at the command alone, never at the case: :data:`COMMAND_GUARDS` and,
for an actor acting province-wide, :data:`PROVINCE_WIDE_GUARDS` declare them
(:func:`command_level`). A command fired on many
cases (the sweep) takes their verdicts once (:func:`settle`) and the runner applies them to
every case (the same rejections, the same waivers) instead of running them again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta

from appcase.errors import Rejection
from appcase.policies import deadlines, permissions
from appcase.states import Disposition, EscalationGround, State
from appcase.workflow.commands import (
    EscalatePayload,
    FlagPayload,
    InterviewPayload,
    JudgePayload,
    PledgePayload,
    RectifyPayload,
    SurveyPayload,
    TakeDownPayload,
    is_blank,
)
from appcase.workflow.context import GuardContext
from appcase.workflow.table import COMMON_GUARDS, POST_JUDGMENT_STATES, spec_for

__all__ = [
    "COMMAND_GUARDS",
    "GUARDS",
    "PROVINCE_WIDE_GUARDS",
    "Guard",
    "Settled",
    "command_level",
    "run_guards",
    "settle",
]

Guard = Callable[[GuardContext], list[Rejection]]

Settled = Mapping[str, tuple[tuple[Rejection, ...], tuple[str, ...]]]
"""Verdicts of guards taken once for a command: guard name -> (its rejections, the guard
codes it waived)."""


def run_guards(names: Iterable[str], ctx: GuardContext) -> list[Rejection]:
    """Run every named guard on ``ctx``; return all rejections, in order.

    Raises:
        TypeError: if a guard returns anything but a list of rejections (a programming error).
    """
    out: list[Rejection] = []
    settled = ctx.settled
    for name in names:
        if settled is not None and name in settled:
            rejected, waived = settled[name]
            out.extend(rejected)
            ctx.waived.extend(waived)
            continue
        verdict = GUARDS[name](ctx)
        if verdict.__class__ is list and not verdict:
            continue  # passed: the common case, checked first
        if not isinstance(verdict, list) or not all(isinstance(r, Rejection) for r in verdict):
            raise TypeError(f"guard {name!r} returned {verdict!r}, not a list of Rejection")
        out.extend(verdict)
    return out


def _override_problem(ctx: GuardContext) -> str | None:
    """Why the command's override cannot be used, or ``None`` if it can.

    A self-authorised override: the acting officer's role may override and covers the
    case. A granted one: the grant exists, is for this case (for a survey: this
    prefecture, no case yet) and this event, is neither revoked nor used, has not expired
    when the command runs (the clock's now), and its authoriser may override the case
    (:func:`~appcase.policies.permissions.check_override_authority`).
    """
    cmd = ctx.command
    override = cmd.override
    if override is None:
        return "no override was recorded"
    if override.grant is not None:
        problem = _grant_problem(ctx, override.grant)
        if problem is not None:
            return problem
    who = cmd.override_actor or cmd.actor
    return permissions.check_override_authority(
        ctx.campaign,
        actor=who.id,
        role=who.role,
        actor_jurisdiction=who.jurisdiction,
        case_prefecture=ctx.case.prefecture,
    )


def _grant_problem(ctx: GuardContext, grant_id: str) -> str | None:
    grant, cmd = ctx.command.grant, ctx.command
    if grant is None:
        return f"there is no override grant {grant_id!r}"
    if grant.case_id != ctx.case.case_id or grant.prefecture != ctx.case.prefecture:
        target = grant.case_id or f"a survey in {grant.prefecture}"
        return f"grant {grant.id} is for {target}, not this case"
    if grant.event != cmd.event.value:
        return f"grant {grant.id} is for {grant.event}, not {cmd.event.value}"
    if grant.revoked_at is not None:
        return f"grant {grant.id} was revoked by {grant.revoked_by}"
    if grant.used_at is not None:
        return f"grant {grant.id} was already used (a grant serves one command)"
    if grant.expires_at <= ctx.now:
        return f"grant {grant.id} expired at {grant.expires_at.isoformat()}"
    return None


def _waive(ctx: GuardContext, code: str, rejection: Rejection) -> list[Rejection]:
    problem = _override_problem(ctx)
    if problem is None:
        ctx.waived.append(code)
        return []
    return [Rejection(code, f"{rejection.message}; an override is needed, but {problem}")]


# --- common guards ---------------------------------------------------------------------


def permission(ctx: GuardContext) -> list[Rejection]:
    """Role × event × jurisdiction (policy: :mod:`appcase.policies.permissions`)."""
    cmd = ctx.command
    return permissions.check_permission(
        ctx.campaign,
        role=cmd.actor.role,
        actor_jurisdiction=cmd.actor.jurisdiction,
        event=cmd.event,
        case_prefecture=ctx.case.prefecture,
        via_sweep=cmd.via_sweep,
    )


def phase_window(ctx: GuardContext) -> list[Rejection]:
    """The act happens inside a window of its event, else it needs an authorised override.

    Source: 三、工作安排 (phase deadlines), read in the campaign's zone, deadline day
    inclusive.
    """
    cmd = ctx.command
    if deadlines.window_open(ctx.campaign, cmd.event, cmd.at):
        return []
    local = cmd.at.astimezone(ctx.campaign.zone).isoformat(timespec="seconds")
    spans = ", ".join(
        f"{ctx.campaign.phase(p).start}..{ctx.campaign.phase(p).deadline}"
        for p in ctx.campaign.windows[cmd.event]
    )
    rejection = Rejection(
        "phase_window", f"{cmd.event.value} at {local} is outside its window ({spans})"
    )
    return _waive(ctx, "phase_window", rejection)


def chronology(ctx: GuardContext) -> list[Rejection]:
    """The act is not in the future and not before the case's previous event."""
    at = ctx.command.at
    out = []
    if at > ctx.now + timedelta(minutes=5):
        out.append(Rejection("chronology", f"event time {at.isoformat()} is in the future"))
    last = ctx.case.last_occurred_at
    if last is not None and at < last:
        out.append(
            Rejection(
                "chronology",
                f"event time {at.isoformat()} is before the case's previous event "
                f"({last.isoformat()})",
            )
        )
    return out


# --- survey ------------------------------------------------------------------------------


def app_identity(ctx: GuardContext) -> list[Rejection]:
    """The app's prefecture belongs to the campaign."""
    payload = ctx.command.payload
    assert isinstance(payload, SurveyPayload)
    if not any(p.code == payload.app.prefecture for p in ctx.campaign.prefectures):
        return [
            Rejection(
                "app_identity",
                f"prefecture {payload.app.prefecture} is not one of this campaign's",
            )
        ]
    return []


def not_in_ledger(ctx: GuardContext) -> list[Rejection]:
    """The app (same credit code and name) is not yet in this campaign's ledger."""
    if ctx.case.already_in_ledger:
        return [Rejection("not_in_ledger", "this app is already in the campaign's ledger")]
    return []


# --- flag, judge, dismiss --------------------------------------------------------------


def evidence(ctx: GuardContext) -> list[Rejection]:
    """At least one evidence item, each with a harm category of the campaign (三(一))."""
    payload = ctx.command.payload
    assert isinstance(payload, FlagPayload)
    if not payload.evidence:
        return [Rejection("evidence", "flag needs at least one evidence item")]
    known = ctx.campaign.harm_category_ids
    return [
        Rejection("evidence", f"evidence {i}: unknown harm category {e.harm_category!r}")
        for i, e in enumerate(payload.evidence, 1)
        if e.harm_category not in known
    ]


def findings(ctx: GuardContext) -> list[Rejection]:
    """Findings recorded (unless no violation), each of a known category, citing evidence."""
    payload = ctx.command.payload
    assert isinstance(payload, JudgePayload)
    out = []
    if payload.disposition is None:
        out.append(Rejection("findings", "judge needs a disposition"))
    if not payload.findings and payload.disposition is not Disposition.NO_VIOLATION:
        out.append(Rejection("findings", "judge needs at least one finding"))
    known = ctx.campaign.harm_category_ids
    for i, f in enumerate(payload.findings, 1):
        if f.harm_category not in known:
            out.append(
                Rejection("findings", f"finding {i}: unknown harm category {f.harm_category!r}")
            )
        missing = sorted(set(f.evidence_refs) - ctx.case.evidence_numbers)
        if missing:
            out.append(
                Rejection("findings", f"finding {i}: no evidence numbered {missing} in this case")
            )
    return out


def disposition_minimum(ctx: GuardContext) -> list[Rejection]:
    """The disposition is no milder than the policy's minimum (override needed) and a
    stricter one carries a reason (policy: :mod:`appcase.policies.disposition`)."""
    payload = ctx.command.payload
    assert isinstance(payload, JudgePayload)
    if payload.disposition is None or ctx.policy is None:
        return []
    chosen, minimum = payload.disposition, ctx.policy.minimum
    rules = ", ".join(ctx.policy.rule_ids)
    if chosen.rank < minimum.rank:
        rejection = Rejection(
            "disposition_minimum",
            f"disposition {chosen.value} is milder than the policy's minimum "
            f"{minimum.value} (rules {rules})",
        )
        return _waive(ctx, "disposition_minimum", rejection)
    if chosen.rank > minimum.rank and is_blank(ctx.command.reason):
        return [
            Rejection(
                "disposition_minimum",
                f"disposition {chosen.value} is stricter than the policy's minimum "
                f"{minimum.value}; give a reason",
            )
        ]
    return []


def disposition_is_no_violation(ctx: GuardContext) -> list[Rejection]:
    """Only a judgment of no violation can be dismissed."""
    if ctx.case.disposition is not Disposition.NO_VIOLATION:
        return [
            Rejection(
                "disposition",
                f"only a 'no_violation' judgment can be dismissed; this one is "
                f"{ctx.case.disposition.value if ctx.case.disposition else 'missing'}",
            )
        ]
    return []


# --- interview, pledge, rectify ----------------------------------------------------------


def disposition_is_interview(ctx: GuardContext) -> list[Rejection]:
    """An interview follows a judgment of 'interview and rectify' (三(二))."""
    if ctx.case.state is State.JUDGED and ctx.case.disposition is not Disposition.INTERVIEW_RECTIFY:
        return [
            Rejection(
                "disposition",
                "an interview needs a judgment of 'interview_rectify'; this one is "
                f"{ctx.case.disposition.value if ctx.case.disposition else 'missing'}",
            )
        ]
    return []


def interview_record(ctx: GuardContext) -> list[Rejection]:
    """The interview record is complete (CAC 约谈 rules 2015; 三(二) 指出问题、限期整改)."""
    p = ctx.command.payload
    assert isinstance(p, InterviewPayload)
    params = ctx.campaign.policy
    out = []

    def no(msg: str) -> None:
        out.append(Rejection("interview_record", msg))

    if p.notice_given_at is None:
        no("record when notice was given (reason, time, place and participants in advance)")
    if p.held_at is None:
        no("record when the interview was held")
    if p.notice_given_at and p.held_at:
        need = timedelta(hours=params.deadlines.min_notice_hours)
        if p.held_at - p.notice_given_at < need:
            no(f"notice must be given at least {params.deadlines.min_notice_hours} h in advance")
    if p.held_at and p.held_at > ctx.command.at:
        no("the interview is recorded as held after the event time")
    last = ctx.case.last_occurred_at
    if p.held_at and last is not None and p.held_at < last:
        no(
            "the interview is recorded as held before the case's previous event "
            f"({last.astimezone(ctx.campaign.zone).isoformat(timespec='minutes')}): "
            "it follows the judgment"
        )
    if not p.place:
        no("record the place")
    if len(set(p.officers)) < params.interview.min_officers:
        no(f"at least {params.interview.min_officers} distinct officers must attend")
    if not p.problems:
        no("record the problems pointed out")
    if p.rectification_deadline is None:
        no("set a rectification deadline")
    else:
        cap = deadlines.rectification_deadline_cap(ctx.campaign)
        if p.rectification_deadline > cap:
            no(f"rectification deadline {p.rectification_deadline} is after the cap {cap}")
        if p.held_at and p.rectification_deadline < p.held_at.astimezone(ctx.campaign.zone).date():
            no("rectification deadline is before the interview")
    return out


def pledge_record(ctx: GuardContext) -> list[Rejection]:
    """A signed pledge with commitments and a deadline within the cap (三(二) 签订整改承诺书)."""
    p = ctx.command.payload
    assert isinstance(p, PledgePayload)
    out = []

    def no(msg: str) -> None:
        out.append(Rejection("pledge_record", msg))

    if not p.signed_by:
        no("record who signed the pledge for the operator")
    if p.signed_at is None:
        no("record when the pledge was signed")
    elif p.signed_at > ctx.command.at:
        no("the pledge is recorded as signed after the event time")
    if not p.commitments:
        no("the pledge needs at least one commitment")
    if p.deadline is None:
        no("the pledge needs a rectification deadline")
    else:
        cap = deadlines.rectification_deadline_cap(ctx.campaign)
        if p.deadline > cap:
            no(f"deadline {p.deadline} is after the cap {cap}")
        if p.deadline < ctx.command.at.astimezone(ctx.campaign.zone).date():
            no(f"deadline {p.deadline} has already passed")
    return out


def rectification_verified(ctx: GuardContext) -> list[Rejection]:
    """Every pledged commitment verified, on or before the pledge's deadline day."""
    p = ctx.command.payload
    assert isinstance(p, RectifyPayload)
    out = []
    commitments = ctx.case.pledge_commitments
    verified: set[int] = set()
    for check in p.checks:
        index = _commitment_index(check.commitment, commitments)
        if index is None:
            out.append(
                Rejection("rectification", f"{check.commitment!r} is not a pledged commitment")
            )
        elif check.verified:
            verified.add(index)
    for i, text in enumerate(commitments, 1):
        if i not in verified:
            out.append(Rejection("rectification", f"commitment {i} not verified: {text}"))
    deadline = ctx.case.pledge_deadline
    if deadline is not None and deadlines.deadline_passed(ctx.campaign, deadline, ctx.command.at):
        out.append(Rejection("rectification", f"verified after the pledge deadline {deadline}"))
    return out


def _commitment_index(ref: str, commitments: tuple[str, ...]) -> int | None:
    if ref.isdigit() and 1 <= int(ref) <= len(commitments):
        return int(ref)
    for i, text in enumerate(commitments, 1):
        if text == ref:
            return i
    return None


# --- escalate, take down, return, refer -----------------------------------------------------


def escalation_ground(ctx: GuardContext) -> list[Rejection]:
    """The ground fits the case (三(二): 主体责任落实严重不到位或整改不到位)."""
    p = ctx.command.payload
    assert isinstance(p, EscalatePayload)
    g, state = p.ground, ctx.case.state
    if g is None:
        return [Rejection("escalation_ground", "give the ground of the escalation")]
    if g is EscalationGround.TAKEDOWN_DISPOSITION:
        fits = state is State.JUDGED and ctx.case.disposition is Disposition.TAKEDOWN
    elif g is EscalationGround.PLEDGE_REFUSED:
        fits = state is State.INTERVIEWED
    elif g is EscalationGround.RECTIFICATION_FAILED:
        fits = state is State.PLEDGED
    else:  # RECTIFICATION_OVERDUE
        deadline = ctx.case.pledge_deadline
        fits = (
            state is State.PLEDGED
            and deadline is not None
            and deadlines.deadline_passed(ctx.campaign, deadline, ctx.command.at)
        )
    if not fits:
        needs = {
            EscalationGround.TAKEDOWN_DISPOSITION: "a judged case whose disposition is takedown",
            EscalationGround.PLEDGE_REFUSED: "an interviewed case (no pledge signed)",
            EscalationGround.RECTIFICATION_FAILED: "a pledged case",
            EscalationGround.RECTIFICATION_OVERDUE: "a pledged case whose deadline "
            f"({ctx.case.pledge_deadline or 'none recorded'}) has passed",
        }
        judged = f", disposition {ctx.case.disposition.value}" if ctx.case.disposition else ""
        return [
            Rejection(
                "escalation_ground",
                f"ground {g.value} needs {needs[g]}; this case is {state.value}{judged}",
            )
        ]
    return []


def reason(ctx: GuardContext) -> list[Rejection]:
    """A reason is given."""
    if is_blank(ctx.command.reason):
        return [Rejection("reason", f"{ctx.command.event.value} needs a reason")]
    return []


def decision_record(ctx: GuardContext) -> list[Rejection]:
    """The takedown decision has a document number."""
    p = ctx.command.payload
    assert isinstance(p, TakeDownPayload)
    if not p.decision_no:
        return [Rejection("decision_record", "record the decision's document number")]
    return []


def after_judgment(ctx: GuardContext) -> list[Rejection]:
    """A referral comes after a judgment."""
    if ctx.case.state not in POST_JUDGMENT_STATES:
        return [
            Rejection(
                "after_judgment", f"a case in state {ctx.case.state.value} has not been judged yet"
            )
        ]
    return []


def suspected_illegal(ctx: GuardContext) -> list[Rejection]:
    """A suspected-illegal finding is recorded (三(二): 对涉嫌违法的...交由司法部门)."""
    if not ctx.case.suspected_illegal:
        return [
            Rejection("suspected_illegal", "no suspected-illegal finding is recorded for this case")
        ]
    return []


GUARDS: dict[str, Guard] = {
    "permission": permission,
    "phase_window": phase_window,
    "chronology": chronology,
    "app_identity": app_identity,
    "not_in_ledger": not_in_ledger,
    "evidence": evidence,
    "findings": findings,
    "disposition_minimum": disposition_minimum,
    "disposition_is_no_violation": disposition_is_no_violation,
    "disposition_is_interview": disposition_is_interview,
    "interview_record": interview_record,
    "pledge_record": pledge_record,
    "rectification_verified": rectification_verified,
    "escalation_ground": escalation_ground,
    "reason": reason,
    "decision_record": decision_record,
    "after_judgment": after_judgment,
    "suspected_illegal": suspected_illegal,
}
"""The registry of guards by name: the only place table guard names are resolved."""

COMMAND_GUARDS: tuple[str, ...] = (
    "reason",
    "decision_record",
    "evidence",
    "pledge_record",
    "app_identity",
)
"""Guards that never read the case (nor the clock's now): their verdict is the command's
(its actor, event, instant, reason, payload) under the campaign, the same for every case."""

PROVINCE_WIDE_GUARDS: tuple[str, ...] = ("permission", "phase_window")
"""Guards that read the case only for an actor (or an override's authoriser) of prefecture
scope: ``permission`` compares a prefecture officer's jurisdiction with the case's, and
``phase_window`` the authoriser's when an override is needed. For a command whose actor and
authoriser act province-wide (the ``system`` actor, a role of province scope) their verdict
is the command's, the same for every case."""


def command_level(ctx: GuardContext) -> tuple[str, ...]:
    """The guards of ``ctx``'s command's table row whose verdict is the same for every case:
    those of :data:`COMMAND_GUARDS`, and those of :data:`PROVINCE_WIDE_GUARDS` when the
    actor and the override's authoriser (if any) are the ``system`` actor or hold a role of
    province scope."""
    cmd = ctx.command
    level = set(COMMAND_GUARDS)
    for who in (cmd.actor, cmd.override_actor):
        if who is None or who.role == permissions.SYSTEM_ROLE:
            continue
        spec = ctx.campaign.role(who.role)
        if spec is None or spec.scope != "province":
            break
    else:
        level.update(PROVINCE_WIDE_GUARDS)
    row = (*COMMON_GUARDS, *spec_for(cmd.event).guards)
    return tuple(name for name in row if name in level)


def settle(ctx: GuardContext) -> Settled:
    """Run the command-level guards (:func:`command_level`) of ``ctx``'s command once, on
    the context of any one case, and keep their verdicts for every case of the command
    (:attr:`GuardContext.settled`); ``ctx`` itself is left as it was.

    Raises:
        TypeError: as :func:`run_guards`.
    """
    verdicts: dict[str, tuple[tuple[Rejection, ...], tuple[str, ...]]] = {}
    for name in command_level(ctx):
        probe = GuardContext(ctx.case, ctx.command, ctx.campaign, ctx.now, ctx.policy)
        rejected = run_guards((name,), probe)
        verdicts[name] = (tuple(rejected), tuple(probe.waived))
    return verdicts
