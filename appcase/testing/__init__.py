"""Property-test a campaign file: hypothesis strategies, the properties, a state machine.

``appcase.testing`` is what appcase's own tests use, published for policy analysts who draft
a campaign file (another province, next year) and want to know that its policy still holds
together. It needs hypothesis: ``pip install 'appcase[testing]'``.

* strategies parametrised by any :class:`~appcase.Campaign` -- findings, evidence, the payload
  of every event, actors of every role and jurisdiction, instants inside and outside every
  window, whole sequences of commands (:mod:`appcase.testing.strategies`);
* the properties, as functions of a campaign returning a :class:`PropertyResult` that holds,
  or carries the smallest counterexample in an analyst's words
  (:mod:`appcase.testing.properties`); ``appcase policy check`` runs them all;
* :func:`campaign_machine`, a ``RuleBasedStateMachine`` that plays a campaign through a real
  engine on a temporary SQLite file (:mod:`appcase.testing.machine`).

Example (a test file of your own)::

    import appcase
    from appcase.testing import check_campaign

    def test_my_campaign_holds_together():
        campaign = appcase.load_campaign("hubei-2025.toml")
        for result in check_campaign(campaign, examples=200, seed=1):
            assert result.holds, result.report()

Importing this module builds nothing and touches no database.
"""

from appcase.policies.campaign import Campaign, DeadlineParams, DispositionParams
from appcase.policies.disposition import DispositionResult, Factors, FindingInput, RuleFired
from appcase.testing.machine import CampaignMachine, campaign_machine
from appcase.testing.properties import (
    PROPERTIES,
    Counterexample,
    Judgment,
    Progress,
    Property,
    PropertyResult,
    check_campaign,
    disposition_deterministic,
    disposition_monotone,
    disposition_order_independent,
    disposition_total,
    explain,
    for_all,
    machine_invariants,
    referral_exact,
    roles_can_act,
    states_reachable,
    windows_ordered,
    working_day_deadlines,
)
from appcase.testing.strategies import (
    DISPOSITION_ORDER,
    NUDGES,
    SEVERITY_ORDER,
    ActorSpec,
    CommandSpec,
    actors,
    app_identities,
    campaign_boundaries,
    campaign_days,
    campaign_with,
    commands,
    deadline_params,
    disposition_params,
    disposition_rank,
    dispositions,
    events,
    evidence_items,
    factors,
    finding_inputs,
    finding_lists,
    findings,
    fixed_offsets,
    harm_categories,
    instants_in,
    instants_in_window,
    instants_near,
    instants_outside_window,
    mostly,
    naive_datetimes,
    nudges,
    payloads,
    severities,
    severity_rank,
    unique_app,
    zones,
)

__all__ = [
    "DISPOSITION_ORDER",
    "NUDGES",
    "PROPERTIES",
    "SEVERITY_ORDER",
    "ActorSpec",
    "Campaign",
    "CampaignMachine",
    "CommandSpec",
    "Counterexample",
    "DeadlineParams",
    "DispositionParams",
    "DispositionResult",
    "Factors",
    "FindingInput",
    "Judgment",
    "Progress",
    "Property",
    "PropertyResult",
    "RuleFired",
    "actors",
    "app_identities",
    "campaign_boundaries",
    "campaign_days",
    "campaign_machine",
    "campaign_with",
    "check_campaign",
    "commands",
    "deadline_params",
    "disposition_deterministic",
    "disposition_monotone",
    "disposition_order_independent",
    "disposition_params",
    "disposition_rank",
    "disposition_total",
    "dispositions",
    "events",
    "evidence_items",
    "explain",
    "factors",
    "finding_inputs",
    "finding_lists",
    "findings",
    "fixed_offsets",
    "for_all",
    "harm_categories",
    "instants_in",
    "instants_in_window",
    "instants_near",
    "instants_outside_window",
    "machine_invariants",
    "mostly",
    "naive_datetimes",
    "nudges",
    "payloads",
    "referral_exact",
    "roles_can_act",
    "severities",
    "severity_rank",
    "states_reachable",
    "unique_app",
    "windows_ordered",
    "working_day_deadlines",
    "zones",
]
