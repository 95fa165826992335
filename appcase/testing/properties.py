"""The properties a campaign file must keep, as functions an analyst calls from pytest.

Each property is a function of a :class:`~appcase.Campaign` returning a
:class:`PropertyResult`: it holds over so many examples, or it carries the smallest
counterexample found, told in the analyst's words (the findings, the disposition each gave,
the rules that fired with their source sections, the threshold of the file involved).

Properties of the disposition policy search with hypothesis's :func:`hypothesis.find`, which
shrinks what it finds to the smallest example; ``seed`` makes a run reproducible (the same
seed and number of examples give the same counterexample). The structural properties (states,
roles, windows, working days) are checked exhaustively and need no seed.

Example::

    import appcase
    from appcase.testing import disposition_monotone

    def test_monotone():
        result = disposition_monotone(appcase.load_campaign("my.toml"), examples=500, seed=7)
        assert result.holds, result.report()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from random import Random
from typing import Any

from hypothesis import HealthCheck, Phase, find, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from hypothesis.stateful import run_state_machine_as_test

from appcase.errors import AppcaseError
from appcase.policies import deadlines
from appcase.policies.campaign import Campaign
from appcase.policies.disposition import RULES, DispositionResult, Factors, FindingInput, evaluate
from appcase.policies.permissions import SYSTEM_ROLE
from appcase.states import Disposition, Event, JudicialState, State, Track
from appcase.testing.strategies import (
    SEVERITY_ORDER,
    disposition_rank,
    factors,
    finding_inputs,
    finding_lists,
    severity_rank,
)
from appcase.workflow.table import FINAL_STATES, INITIAL_STATES, POST_JUDGMENT_STATES, TABLE

__all__ = [
    "PROPERTIES",
    "Counterexample",
    "Judgment",
    "Progress",
    "Property",
    "PropertyResult",
    "check_campaign",
    "disposition_deterministic",
    "disposition_monotone",
    "disposition_order_independent",
    "disposition_total",
    "explain",
    "for_all",
    "machine_invariants",
    "referral_exact",
    "roles_can_act",
    "states_reachable",
    "windows_ordered",
    "working_day_deadlines",
]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(property_name, examples_done, examples_planned)`` during a run."""


@dataclass(frozen=True, slots=True)
class Judgment:
    """One evaluation of the disposition policy, as a counterexample shows it.

    Attributes:
        label: what this evaluation is, e.g. ``"before"`` or ``"after raising finding 1"``.
        findings: the findings evaluated.
        factors: the circumstances.
        result: the policy's answer (minimum, referral, rules with their sources).
    """

    label: str
    findings: tuple[FindingInput, ...]
    factors: Factors
    result: DispositionResult

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"label", "findings": [{"harm_category", "severity",
        "suspected_illegal"}], "factors": {...}, "minimum", "refer", "rules": [{"id", "text",
        "source", "detail"}]}``."""
        return {
            "label": self.label,
            "findings": [
                {
                    "harm_category": f.harm_category,
                    "severity": f.severity.value,
                    "suspected_illegal": f.suspected_illegal,
                }
                for f in self.findings
            ],
            "factors": dataclasses.asdict(self.factors),
            "minimum": self.result.minimum.value,
            "refer": self.result.refer,
            "rules": [dataclasses.asdict(r) for r in self.result.rules],
        }

    def lines(self) -> list[str]:
        """The evaluation in words, one item per line."""
        f = self.factors
        if self.findings:
            said = "; ".join(
                f"{x.harm_category} {x.severity.value}"
                + (" (suspected illegal)" if x.suspected_illegal else "")
                for x in self.findings
            )
        else:
            said = "no findings"
        out = [
            f"{self.label}: {said}",
            f"    circumstances: prior cases {f.prior_cases}, seriously lacking responsibility "
            f"{'yes' if f.seriously_lacking_responsibility else 'no'}, used by schools "
            f"{'yes' if f.used_by_schools else 'no'}",
            f"    gives {self.result.minimum.value}, refer to the judiciary "
            f"{'yes' if self.result.refer else 'no'}; rules fired:",
        ]
        for r in self.result.rules:
            detail = f" -- {r.detail}" if r.detail else ""
            out.append(f"      {r.id} {r.text} [{r.source}]{detail}")
        return out


@dataclass(frozen=True, slots=True)
class Counterexample:
    """Why a property fails, in an analyst's words.

    Attributes:
        summary: one sentence: what breaks.
        judgments: the evaluations of the disposition policy involved (none for the
            structural properties).
        thresholds: the campaign file's settings involved, ``"field.path = value"``.
        details: further lines (states, roles, dates).
    """

    summary: str
    judgments: tuple[Judgment, ...] = ()
    thresholds: tuple[str, ...] = ()
    details: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"summary", "judgments": [...], "thresholds", "details"}``."""
        return {
            "summary": self.summary,
            "judgments": [j.as_dict() for j in self.judgments],
            "thresholds": list(self.thresholds),
            "details": list(self.details),
        }

    def lines(self) -> list[str]:
        """The counterexample in words, one item per line."""
        out = [self.summary]
        for j in self.judgments:
            out.extend(j.lines())
        if self.thresholds:
            out.append("the campaign file's settings involved:")
            out.extend(f"    {t}" for t in self.thresholds)
        out.extend(self.details)
        return out


@dataclass(frozen=True, slots=True)
class PropertyResult:
    """The outcome of one property on one campaign.

    Attributes:
        name: the property's name, e.g. ``"disposition_monotone"``.
        statement: what the property says.
        holds: whether no counterexample was found.
        examples: how many examples (or cases, for the structural properties) were tried.
        counterexample: the smallest counterexample found, or ``None``.
        note: a remark, e.g. why a property does not apply to this campaign.
    """

    name: str
    statement: str
    holds: bool
    examples: int
    counterexample: Counterexample | None = None
    note: str = ""

    def report(self) -> str:
        """The outcome in words: ``"<name>: holds over N examples"`` or the counterexample."""
        if self.holds:
            tail = f" ({self.note})" if self.note else ""
            return f"{self.name}: holds over {self.examples} examples{tail}"
        assert self.counterexample is not None
        lines = [f"{self.name}: FAILS -- {self.statement}"]
        lines.extend(f"  {line}" for line in self.counterexample.lines())
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"name", "statement", "holds", "examples", "note",
        "counterexample": {...} | None}``."""
        return {
            "name": self.name,
            "statement": self.statement,
            "holds": self.holds,
            "examples": self.examples,
            "note": self.note,
            "counterexample": self.counterexample.as_dict() if self.counterexample else None,
        }


# --- searching with hypothesis --------------------------------------------------------------


def _search(
    name: str,
    statement: str,
    strategy: st.SearchStrategy[Any],
    violation: Callable[[Any], Counterexample | None],
    *,
    examples: int,
    seed: int | None,
    progress: Progress | None,
) -> PropertyResult:
    """Look for an input on which ``violation`` says the property breaks; shrink it."""
    tried = 0
    searching = True

    def breaks(value: Any) -> bool:
        nonlocal tried
        if searching:
            tried += 1
            if progress is not None and (tried % 100 == 0 or tried == examples):
                progress(name, tried, examples)
        return violation(value) is not None

    config = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
    )
    try:
        found = find(strategy, breaks, settings=config, random=Random(seed))
    except NoSuchExample:
        return PropertyResult(name, statement, True, tried)
    searching = False
    example = violation(found)
    assert example is not None
    return PropertyResult(name, statement, False, tried, example)


def for_all(
    name: str,
    strategy: st.SearchStrategy[Any],
    check: Callable[[Any], str | None],
    *,
    statement: str = "",
    examples: int = 200,
    seed: int | None = None,
    progress: Progress | None = None,
) -> PropertyResult:
    """A property of your own: ``check`` holds for every value ``strategy`` draws.

    Args:
        name: the property's name, for the report.
        strategy: where the examples come from (e.g. ``finding_lists(campaign)``).
        check: returns ``None`` when the property holds for a value, else what breaks, in
            words (it may also raise ``AssertionError``, whose message is used).
        statement: what the property says.
        examples: how many examples to try (≥ 1).
        seed: the random seed (``None``: derandomised).
        progress: called every 100 examples.

    Returns:
        The :class:`PropertyResult`; a counterexample's ``details`` hold the smallest failing
        value, as ``repr``.
    """

    def violation(value: Any) -> Counterexample | None:
        try:
            said = check(value)
        except AssertionError as exc:
            said = str(exc) or "assertion failed"
        if said is None:
            return None
        return Counterexample(said, details=(f"smallest failing example: {value!r}",))

    return _search(
        name,
        statement or name,
        strategy,
        violation,
        examples=examples,
        seed=seed,
        progress=progress,
    )


def explain(
    campaign: Campaign, findings: Sequence[FindingInput], factors: Factors | None = None
) -> DispositionResult:
    """What ``campaign``'s disposition policy says of findings (for properties of your own).

    Args:
        campaign: the campaign whose ``policy.disposition`` answers.
        findings: the findings, as :func:`~appcase.testing.finding_lists` draws them.
        factors: the circumstances (default: none: no prior case, no school use).

    Returns:
        The answer: ``minimum`` (a :class:`~appcase.Disposition`), ``refer``, ``rules``.
    """
    return evaluate(
        findings, factors or Factors(), campaign.policy.disposition, campaign.policy.version
    )


def _safely(
    campaign: Campaign, findings: Sequence[FindingInput], f: Factors
) -> DispositionResult | str:
    try:
        return evaluate(findings, f, campaign.policy.disposition, campaign.policy.version)
    except Exception as exc:  # totality: any exception is the counterexample
        return f"{type(exc).__name__}: {exc}"


def _judge(
    campaign: Campaign, label: str, findings: Sequence[FindingInput], f: Factors
) -> Judgment:
    result = evaluate(findings, f, campaign.policy.disposition, campaign.policy.version)
    return Judgment(label, tuple(findings), f, result)


def _thresholds(campaign: Campaign, *names: str) -> tuple[str, ...]:
    params = campaign.policy.disposition.model_dump(mode="json")
    out = []
    for n in names:
        value = params[n]
        if isinstance(value, dict):
            value = ", ".join(f"{k} = {v}" for k, v in value.items())
            out.append(f"policy.disposition.{n}: {{{value}}}")
        else:
            out.append(f"policy.disposition.{n} = {str(value).lower()}")
    return tuple(out)


# --- the disposition policy ------------------------------------------------------------------

_TOTAL = (
    "the disposition rule answers for any findings and circumstances, naming every rule "
    "behind the answer with its source"
)


def disposition_total(
    campaign: Campaign,
    *,
    examples: int = 200,
    seed: int | None = None,
    progress: Progress | None = None,
) -> PropertyResult:
    """The disposition rule is total: an answer (a disposition, the rules that fired, each with
    its source section) for any findings in the campaign's categories and any circumstances.

    Args:
        campaign: the campaign whose ``policy.disposition`` is tested.
        examples: how many random inputs to try (≥ 1).
        seed: the random seed (``None``: derandomised, the same examples every run).
        progress: called every 100 examples.

    Returns:
        The :class:`PropertyResult`.
    """

    def violation(value: tuple[list[FindingInput], Factors]) -> Counterexample | None:
        findings, f = value
        result = _safely(campaign, findings, f)
        if isinstance(result, str):
            return Counterexample(f"the rule raised {result}", details=(repr(findings),))
        bad = [r.id for r in result.rules if r.id not in RULES or not r.source]
        if result.minimum not in set(Disposition) or not result.rules or bad:
            return Counterexample(
                "the answer names no rule, or a rule without its source: " + ", ".join(bad),
                (Judgment("findings", tuple(findings), f, result),),
            )
        return None

    strategy = st.tuples(finding_lists(campaign), factors)
    return _search(
        "disposition_total",
        _TOTAL,
        strategy,
        violation,
        examples=examples,
        seed=seed,
        progress=progress,
    )


def disposition_deterministic(
    campaign: Campaign,
    *,
    examples: int = 200,
    seed: int | None = None,
    progress: Progress | None = None,
) -> PropertyResult:
    """The disposition rule is deterministic: the same findings and circumstances always give
    the same answer. Arguments and result as :func:`disposition_total`."""
    statement = "the same findings and circumstances always give the same answer"

    def violation(value: tuple[list[FindingInput], Factors]) -> Counterexample | None:
        findings, f = value
        first = _judge(campaign, "first evaluation", findings, f)
        again = _judge(campaign, "second evaluation", list(findings), dataclasses.replace(f))
        if first.result != again.result:
            return Counterexample("two evaluations of the same input differ", (first, again))
        return None

    strategy = st.tuples(finding_lists(campaign), factors)
    return _search(
        "disposition_deterministic",
        statement,
        strategy,
        violation,
        examples=examples,
        seed=seed,
        progress=progress,
    )


def disposition_order_independent(
    campaign: Campaign,
    *,
    examples: int = 200,
    seed: int | None = None,
    progress: Progress | None = None,
) -> PropertyResult:
    """The order in which findings are listed never changes the answer. Arguments and result
    as :func:`disposition_total`."""
    statement = "the order in which findings are listed never changes the answer"

    def violation(
        value: tuple[list[FindingInput], list[FindingInput], Factors],
    ) -> Counterexample | None:
        findings, shuffled, f = value
        one = _judge(campaign, "in one order", findings, f)
        other = _judge(campaign, "in another order", shuffled, f)
        if one.result != other.result:
            return Counterexample(
                "the same findings in another order gave another answer", (one, other)
            )
        return None

    strategy = finding_lists(campaign).flatmap(
        lambda xs: st.tuples(st.just(xs), st.permutations(xs), factors)
    )
    return _search(
        "disposition_order_independent",
        statement,
        strategy,
        violation,
        examples=examples,
        seed=seed,
        progress=progress,
    )


@st.composite
def _worsenings(
    draw: st.DrawFn, campaign: Campaign
) -> tuple[list[FindingInput], Factors, str, list[FindingInput], Factors]:
    """Findings and circumstances, and a worse version of them (one change)."""
    findings = draw(finding_lists(campaign, max_size=5))
    f = draw(factors)
    kind = draw(st.sampled_from(["raise", "add", "prior", "lacking", "schools", "raise"]))
    if kind == "raise" and findings:
        i = draw(st.integers(0, len(findings) - 1))
        current = severity_rank(findings[i].severity)
        if current < len(SEVERITY_ORDER) - 1:
            # one step up: a raise by several steps is several raises by one
            higher = SEVERITY_ORDER[current + 1]
            worse = [*findings]
            worse[i] = dataclasses.replace(findings[i], severity=higher)
            how = f"finding {i + 1} raised from {findings[i].severity.value} to {higher.value}"
            return findings, f, how, worse, f
    if kind in ("raise", "add"):
        extra = draw(finding_inputs(campaign))
        how = f"one finding more ({extra.harm_category} {extra.severity.value})"
        return findings, f, how, [*findings, extra], f
    if kind == "prior":
        more = draw(st.integers(1, 5))
        return (
            findings,
            f,
            f"{more} prior case(s) more",
            findings,
            dataclasses.replace(f, prior_cases=f.prior_cases + more),
        )
    if kind == "lacking":
        return (
            findings,
            f,
            "judged seriously lacking responsibility",
            findings,
            dataclasses.replace(f, seriously_lacking_responsibility=True),
        )
    return findings, f, "used by schools", findings, dataclasses.replace(f, used_by_schools=True)


def disposition_monotone(
    campaign: Campaign,
    *,
    examples: int = 200,
    seed: int | None = None,
    progress: Progress | None = None,
) -> PropertyResult:
    """The disposition rule is monotone: a finding more, a finding raised to a worse severity,
    more prior cases, or lacking responsibility or school use never give a milder
    disposition. Arguments and result as :func:`disposition_total`; a counterexample names
    the thresholds of ``policy.disposition`` involved."""
    statement = "more or worse findings never give a milder disposition"

    def violation(
        value: tuple[list[FindingInput], Factors, str, list[FindingInput], Factors],
    ) -> Counterexample | None:
        findings, f, how, worse, worse_f = value
        before = _judge(campaign, "before", findings, f)
        after = _judge(campaign, f"after ({how})", worse, worse_f)
        if disposition_rank(after.result.minimum) >= disposition_rank(before.result.minimum):
            return None
        names = (
            ["minimum_by_severity"]
            if campaign.policy.disposition.minimum_by_severity
            else ["takedown_severity"]
        )
        names += ["takedown_serious_count", "recidivism_aggravates", "school_use_aggravates"]
        summary = (
            f"{how} gave {after.result.minimum.value}, milder than {before.result.minimum.value}"
        )
        return Counterexample(summary, (before, after), _thresholds(campaign, *names))

    return _search(
        "disposition_monotone",
        statement,
        _worsenings(campaign),
        violation,
        examples=examples,
        seed=seed,
        progress=progress,
    )


def referral_exact(
    campaign: Campaign,
    *,
    examples: int = 200,
    seed: int | None = None,
    progress: Progress | None = None,
) -> PropertyResult:
    """The rule refers to the judiciary (rule R1) exactly when a finding is suspected illegal
    (三(二): 对涉嫌违法的...交由司法部门). Arguments and result as :func:`disposition_total`."""
    statement = "refers to the judiciary exactly when a finding is suspected illegal"

    def violation(value: tuple[list[FindingInput], Factors]) -> Counterexample | None:
        findings, f = value
        judged = _judge(campaign, "findings", findings, f)
        illegal = any(x.suspected_illegal for x in findings)
        if judged.result.refer is illegal and ("R1" in judged.result.rule_ids) is illegal:
            return None
        summary = (
            "a suspected-illegal finding was not referred"
            if illegal
            else "referred without a suspected-illegal finding"
        )
        return Counterexample(summary, (judged,), _thresholds(campaign, "refer_when_taken_down"))

    strategy = st.tuples(finding_lists(campaign), factors)
    return _search(
        "referral_exact",
        statement,
        strategy,
        violation,
        examples=examples,
        seed=seed,
        progress=progress,
    )


# --- states, roles, windows ---------------------------------------------------------------------


def _may_fire(campaign: Campaign, event: Event) -> list[str]:
    roles = [r.id for r in campaign.roles if event in r.events]
    if event is Event.ESCALATE:
        roles.append(SYSTEM_ROLE)
    return roles


def _reach(campaign: Campaign) -> tuple[set[str], dict[str, list[Event]]]:
    """States reachable on both tracks under the campaign's roles; each state's exits."""
    exits: dict[str, list[Event]] = {}
    reached = {INITIAL_STATES[Track.ADMINISTRATIVE], INITIAL_STATES[Track.JUDICIAL]}
    grew = True
    while grew:
        grew = False
        for spec in TABLE:
            roles = _may_fire(campaign, spec.event)
            if not roles or not campaign.windows.get(spec.event):
                continue
            if spec.event is Event.ESCALATE and roles == [SYSTEM_ROLE]:
                sources: tuple[str, ...] = (State.PLEDGED,)  # the sweep escalates overdue pledges
            else:
                sources = spec.sources
            if spec.track is Track.JUDICIAL and not reached & set(POST_JUDGMENT_STATES):
                continue
            for source in sources:
                if source in reached:
                    exits.setdefault(source, [])
                    if spec.event not in exits[source]:
                        exits[source].append(spec.event)
                    if spec.dest not in reached:
                        reached.add(spec.dest)
                        grew = True
    return reached, exits


def states_reachable(campaign: Campaign) -> PropertyResult:
    """Every state of both tracks can be reached under the campaign's roles, and none but the
    final ones (taken down; referred) is a trap with no event some role may fire out of it.

    Args:
        campaign: the campaign whose ``roles`` and ``windows`` are read with the transition
            table.

    Returns:
        The :class:`PropertyResult` (examples: the number of states checked).
    """
    statement = "every state can be reached, and none but the final ones is a trap"
    reached, exits = _reach(campaign)
    states = [s.value for s in State] + [s.value for s in JudicialState]
    missing = [s for s in states if s not in reached]
    final = FINAL_STATES[Track.ADMINISTRATIVE] | FINAL_STATES[Track.JUDICIAL]
    traps = [
        s
        for s in states
        if s in reached and s not in final and s != JudicialState.NOT_REFERRED and not exits.get(s)
    ]
    if not missing and not traps:
        return PropertyResult("states_reachable", statement, True, len(states))
    details = []
    for s in missing:
        into = [spec for spec in TABLE if spec.dest == s]
        for spec in into:
            roles = _may_fire(campaign, spec.event)
            why = f"roles that may {spec.event.value}: {', '.join(roles) or 'none'}"
            details.append(
                f"{s}: reached only by {spec.event.value} from {', '.join(spec.sources)}; {why}"
            )
    details += [f"{s}: a trap -- no role may fire any event out of it" for s in traps]
    summary = (
        f"cannot be reached: {', '.join(missing)}" if missing else f"traps: {', '.join(traps)}"
    )
    declared = tuple(
        f"roles.{r.id}.events = [{', '.join(e.value for e in r.events)}]" for r in campaign.roles
    )
    return PropertyResult(
        "states_reachable",
        statement,
        False,
        len(states),
        Counterexample(summary, (), declared, tuple(details)),
    )


def roles_can_act(campaign: Campaign) -> PropertyResult:
    """Every declared role can act: it may fire at least one event from a state that can be
    reached, inside a window of the campaign.

    Args:
        campaign: the campaign whose roles are checked.

    Returns:
        The :class:`PropertyResult` (examples: the number of roles).
    """
    statement = "every role may fire some event from a reachable state"
    reached, _ = _reach(campaign)
    idle = []
    for role in campaign.roles:
        usable = [
            e
            for e in role.events
            if campaign.windows.get(e)
            and any(s in reached for spec in TABLE if spec.event is e for s in spec.sources)
        ]
        if not usable:
            idle.append(role)
    if not idle:
        return PropertyResult("roles_can_act", statement, True, len(campaign.roles))
    details = tuple(
        f"roles.{r.id}.events = [{', '.join(e.value for e in r.events)}]: none of these can happen"
        for r in idle
    )
    return PropertyResult(
        "roles_can_act",
        statement,
        False,
        len(campaign.roles),
        Counterexample(
            f"roles that can never act: {', '.join(r.id for r in idle)}", details=details
        ),
    )


def windows_ordered(campaign: Campaign) -> PropertyResult:
    """Deadlines and windows are ordered and inside the campaign.

    Checks that every window opens before it closes and no earlier than the document's date;
    that after each transition the next event's window closes no earlier than the previous
    event's window opens (a case can move on in time); that the rectification deadline cap
    falls inside an interview window's reach and a pledge due on it can still be verified
    (rectify) and, when missed, escalated by the sweep the day after; and that every default
    rectification deadline lies between its interview day and the cap.

    Args:
        campaign: the campaign whose phases, windows and ``policy.deadlines`` are read.

    Returns:
        The :class:`PropertyResult` (examples: the number of checks made).
    """
    statement = "windows and deadlines are ordered and inside the campaign"
    problems: list[str] = []
    checks = 0
    spans = {e: deadlines.windows_for(campaign, e) for e in Event}
    opening = deadlines.day_start(campaign, campaign.issued_on)
    for p in campaign.phases:
        checks += 2
        if p.deadline < p.start:
            problems.append(f"phase {p.id}: ends {p.deadline}, before it starts {p.start}")
        if p.start < campaign.issued_on:
            problems.append(
                f"phase {p.id}: starts {p.start}, before the document's date {campaign.issued_on}"
            )
    for spec in TABLE:
        for nxt in TABLE:
            if spec.track is not nxt.track or spec.dest not in nxt.sources or not spans[nxt.event]:
                continue
            checks += 1
            first_open = min(s for s, _ in spans[spec.event])
            last_close = max(e for _, e in spans[nxt.event])
            if last_close <= first_open:
                problems.append(
                    f"{nxt.event.value} after {spec.event.value}: the {nxt.event.value} window "
                    f"closes {last_close.date()} before the {spec.event.value} window opens "
                    f"{first_open.date()} (windows.{nxt.event.value} = "
                    f"{list(campaign.windows[nxt.event])})"
                )
    cap = deadlines.rectification_deadline_cap(campaign)
    cap_phase = campaign.policy.deadlines.pledge_cap_phase
    due = deadlines.due_at(campaign, cap)
    checks += 3
    if not any(s <= deadlines.day_start(campaign, cap) for s, _ in spans[Event.INTERVIEW]):
        problems.append(
            f"the rectification deadline cap {cap} (phase {cap_phase}) comes before any interview window"
        )
    if not any(s < due <= e for s, e in spans[Event.RECTIFY]):
        problems.append(
            f"a pledge due on the cap {cap} cannot be verified on that day: no rectify window holds it"
        )
    if not any(s <= due < e for s, e in spans[Event.ESCALATE]):
        problems.append(
            f"a pledge missed on the cap {cap} cannot be escalated the day after: no escalate window holds {due.date()}"
        )
    for start, end in spans[Event.INTERVIEW]:
        day = deadlines.local_day(campaign, start)
        last = deadlines.local_day(campaign, end - timedelta(microseconds=1))
        while day <= min(last, cap):
            checks += 1
            try:
                given = deadlines.default_rectification_deadline(campaign, day)
            except AppcaseError as exc:
                problems.append(f"interview on {day}: {exc}")
                break
            if not day <= given <= cap:
                problems.append(
                    f"interview on {day}: default rectification deadline {given} is outside {day}..{cap}"
                )
            day += timedelta(days=1)
    if opening > min(s for s, _ in spans[Event.SURVEY]):
        problems.append("the survey window opens before the document's date")
    if not problems:
        return PropertyResult("windows_ordered", statement, True, checks)
    phases = tuple(f"phases.{p.id}: {p.start} .. {p.deadline}" for p in campaign.phases)
    return PropertyResult(
        "windows_ordered",
        statement,
        False,
        checks,
        Counterexample(
            problems[0],
            (),
            (*phases, f"policy.deadlines.pledge_cap_phase = {cap_phase}"),
            tuple(problems[1:]),
        ),
    )


def working_day_deadlines(campaign: Campaign) -> PropertyResult:
    """When the campaign counts rectification deadlines in working days
    (``policy.deadlines.working_days``), every default deadline, for an interview on any day
    of an interview window, lands on an official working day (China's holiday calendar).

    Args:
        campaign: the campaign.

    Returns:
        The :class:`PropertyResult` (examples: the interview days checked; 0 with a note when
        the campaign counts calendar days).
    """
    statement = "working-day deadlines land on working days"
    if not campaign.policy.deadlines.working_days:
        return PropertyResult(
            "working_day_deadlines", statement, True, 0, note="the campaign counts calendar days"
        )
    cap = deadlines.rectification_deadline_cap(campaign)
    checked = 0
    for start, end in deadlines.windows_for(campaign, Event.INTERVIEW):
        day: date = deadlines.local_day(campaign, start)
        last = deadlines.local_day(campaign, end - timedelta(microseconds=1))
        while day <= min(last, cap):
            checked += 1
            try:
                given = deadlines.default_rectification_deadline(campaign, day)
                ok = deadlines.is_working_day(given)
            except AppcaseError as exc:
                summary = f"interview on {day}: {exc}"
                return PropertyResult(
                    "working_day_deadlines", statement, False, checked, Counterexample(summary)
                )
            if not ok:
                summary = (
                    f"an interview on {day} gets the default rectification deadline {given} "
                    f"({given.strftime('%A')}), not a working day"
                )
                why = (
                    f"the cap {cap} (end of phase {campaign.policy.deadlines.pledge_cap_phase}) is not a working day"
                    if given == cap
                    else "counted past a holiday"
                )
                thresholds = (
                    f"policy.deadlines.pledge_default_days = {campaign.policy.deadlines.pledge_default_days}",
                    f"policy.deadlines.pledge_cap_phase = {campaign.policy.deadlines.pledge_cap_phase}",
                )
                return PropertyResult(
                    "working_day_deadlines",
                    statement,
                    False,
                    checked,
                    Counterexample(summary, (), thresholds, (why,)),
                )
            day += timedelta(days=1)
    return PropertyResult("working_day_deadlines", statement, True, checked)


def machine_invariants(
    campaign: Campaign,
    *,
    examples: int = 5,
    steps: int = 30,
    seed: int | None = None,
    progress: Progress | None = None,
) -> PropertyResult:
    """The whole machine keeps its invariants: random commands through a real engine on a
    temporary SQLite file (:func:`appcase.testing.campaign_machine`) -- the chain verifies,
    replay equals the stored state, refusals write nothing, windows and minimums hold unless
    waived.

    Args:
        campaign: the campaign to play.
        examples: how many runs (each a fresh database).
        steps: at most this many steps per run.
        seed: the random seed (``None``: derandomised).
        progress: called after the runs.

    Returns:
        The :class:`PropertyResult`; a counterexample holds hypothesis's report of the
        failing run.
    """
    from appcase.testing.machine import campaign_machine

    statement = "random commands through a real engine keep every invariant of the machine"
    machine = campaign_machine(campaign)
    if seed is not None:
        machine = seed_machine(machine, seed)
    config = settings(
        max_examples=examples,
        stateful_step_count=steps,
        database=None,
        deadline=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    try:
        run_state_machine_as_test(machine, settings=config)
    except AssertionError as exc:
        lines = tuple(line for line in str(exc).splitlines() if line.strip())
        return PropertyResult(
            "machine_invariants",
            statement,
            False,
            examples,
            Counterexample(lines[0] if lines else "an invariant failed", details=lines[1:]),
        )
    if progress is not None:
        progress("machine_invariants", examples, examples)
    return PropertyResult("machine_invariants", statement, True, examples)


def seed_machine(machine: Any, value: int) -> Any:
    """Apply hypothesis's ``seed`` to a state machine class (typed helper)."""
    return seed(value)(machine)


@dataclass(frozen=True, slots=True)
class Property:
    """A property :func:`check_campaign` runs.

    Attributes:
        name: its name.
        run: ``run(campaign, examples, seed, progress)`` → :class:`PropertyResult`.
    """

    name: str
    run: Callable[[Campaign, int, int | None, Progress | None], PropertyResult] = field(repr=False)


def _searched(
    fn: Callable[..., PropertyResult],
) -> Callable[[Campaign, int, int | None, Progress | None], PropertyResult]:
    return lambda c, n, s, p: fn(c, examples=n, seed=s, progress=p)


PROPERTIES: tuple[Property, ...] = (
    Property("disposition_total", _searched(disposition_total)),
    Property("disposition_deterministic", _searched(disposition_deterministic)),
    Property("disposition_order_independent", _searched(disposition_order_independent)),
    Property("disposition_monotone", _searched(disposition_monotone)),
    Property("referral_exact", _searched(referral_exact)),
    Property("states_reachable", lambda c, n, s, p: states_reachable(c)),
    Property("roles_can_act", lambda c, n, s, p: roles_can_act(c)),
    Property("windows_ordered", lambda c, n, s, p: windows_ordered(c)),
    Property("working_day_deadlines", lambda c, n, s, p: working_day_deadlines(c)),
    Property(
        "machine_invariants",
        lambda c, n, s, p: machine_invariants(c, examples=max(1, n // 100), seed=s, progress=p),
    ),
)
"""Every property, in the order ``appcase policy check`` runs them. ``machine_invariants``
runs one state-machine run per 100 examples (at least one)."""


def check_campaign(
    campaign: Campaign,
    *,
    examples: int = 200,
    seed: int | None = None,
    only: Sequence[str] = (),
    progress: Progress | None = None,
) -> list[PropertyResult]:
    """Run every property (or those named in ``only``) on a campaign.

    Args:
        campaign: the campaign.
        examples: examples per searched property (≥ 1).
        seed: the random seed (``None``: derandomised; the same examples every run).
        only: names from :data:`PROPERTIES` to run (default: all).
        progress: called as the searches advance.

    Returns:
        One :class:`PropertyResult` per property, in :data:`PROPERTIES` order.

    Raises:
        ValueError: a name in ``only`` is not a property.
    """
    names = [p.name for p in PROPERTIES]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ValueError(f"unknown properties {unknown}; known: {', '.join(names)}")
    chosen = [p for p in PROPERTIES if not only or p.name in only]
    return [p.run(campaign, examples, seed, progress) for p in chosen]
