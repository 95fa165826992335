"""Permission policy: role × event × jurisdiction, from the campaign file.

Rules (source: 二、三 of 湘网信办综〔2018〕1号 -- the prefecture offices act on the apps of
their own territory, the provincial office decides takedowns for the whole province):

* an actor's role must be declared by the campaign and list the event;
* a role of ``prefecture`` scope acts only on cases of its own jurisdiction; a role of
  ``province`` scope acts on every case, and its actors hold the province's code;
* the built-in ``system`` role acts only through the sweep, and only to escalate;
* the built-in ``administrator`` role registers actors and issues tokens
  (:mod:`appcase.workflow.governance`): it fires no case event and authorises no override
  (the separation of duties: whoever hands out identities does not act on cases).
"""

from __future__ import annotations

from appcase.errors import Rejection
from appcase.policies.campaign import Campaign
from appcase.states import Event

__all__ = [
    "ADMIN_ROLE",
    "SYSTEM_ROLE",
    "check_override_authority",
    "check_permission",
    "check_posting",
]

SYSTEM_ROLE = "system"
"""The engine's own role, used by the sweep."""

ADMIN_ROLE = "administrator"
"""The built-in role of those who register actors and issue tokens; it holds the
province's code and fires no case event."""


def check_posting(campaign: Campaign, role: str, jurisdiction: str) -> list[Rejection]:
    """Check that an actor's (role, jurisdiction) pair makes sense for this campaign.

    Returns:
        An empty list, or one rejection saying what is wrong.
    """
    if role in (SYSTEM_ROLE, ADMIN_ROLE):
        if jurisdiction != campaign.province.code:
            return [
                Rejection(
                    "jurisdiction",
                    f"the {role} role holds the province's code {campaign.province.code}",
                )
            ]
        return []
    spec = campaign.role(role)
    if spec is None:
        known = ", ".join(r.id for r in campaign.roles)
        return [Rejection("role", f"role {role!r} is not declared by the campaign ({known})")]
    if spec.scope == "province" and jurisdiction != campaign.province.code:
        return [
            Rejection(
                "jurisdiction",
                f"role {role} has province scope; its jurisdiction must be "
                f"{campaign.province.code}, not {jurisdiction}",
            )
        ]
    if spec.scope == "prefecture" and not any(p.code == jurisdiction for p in campaign.prefectures):
        return [
            Rejection(
                "jurisdiction",
                f"{jurisdiction} is not a prefecture of this campaign; "
                "use a GB/T 2260 code such as 430100",
            )
        ]
    return []


def check_permission(
    campaign: Campaign,
    *,
    role: str,
    actor_jurisdiction: str,
    event: Event,
    case_prefecture: str,
    via_sweep: bool = False,
) -> list[Rejection]:
    """Return every permission rejection for an actor firing ``event`` on a case.

    Args:
        campaign: the campaign whose roles apply.
        role: the actor's role id.
        actor_jurisdiction: the actor's GB/T 2260 code.
        event: the event to fire.
        case_prefecture: the GB/T 2260 code of the case's prefecture.
        via_sweep: whether the sweep is firing (only then may ``system`` act).

    Returns:
        Zero, one or two rejections (codes ``role`` and ``jurisdiction``).
    """
    if role == SYSTEM_ROLE:
        if not via_sweep:
            return [Rejection("role", "the system actor acts only through the sweep")]
        if event is not Event.ESCALATE:
            return [Rejection("role", f"the system actor may only escalate, not {event.value}")]
        return []
    if via_sweep:
        return [Rejection("role", "the sweep acts only as the system actor")]
    if role == ADMIN_ROLE:
        return [
            Rejection(
                "role",
                "an administrator registers actors and issues tokens; it fires no case event",
            )
        ]
    spec = campaign.role(role)
    if spec is None:
        return [Rejection("role", f"role {role!r} is not declared by the campaign")]
    out: list[Rejection] = []
    if event not in spec.events:
        allowed = sorted(r.id for r in campaign.roles if event in r.events)
        out.append(
            Rejection(
                "role",
                f"role {role} may not {event.value}; roles that may: {', '.join(allowed) or 'none'}",
            )
        )
    if spec.scope == "prefecture" and actor_jurisdiction != case_prefecture:
        out.append(
            Rejection(
                "jurisdiction",
                f"an officer of {actor_jurisdiction} acts only on cases of that prefecture; "
                f"this case belongs to {case_prefecture}",
            )
        )
    return out


def check_override_authority(
    campaign: Campaign, *, actor: str, role: str, actor_jurisdiction: str, case_prefecture: str
) -> str | None:
    """Why an officer may not authorise an override on a case of ``case_prefecture``, or
    ``None`` if they may.

    Rule: the officer's role is declared by the campaign with ``may_override = true``, and
    a role of ``prefecture`` scope authorises only on cases of its own prefecture (the
    built-in ``system`` and ``administrator`` roles never authorise).

    Args:
        campaign: the campaign whose roles apply.
        actor / role / actor_jurisdiction: the authorising officer's id, role id and
            GB/T 2260 code.
        case_prefecture: the GB/T 2260 code of the case's prefecture.

    Returns:
        A sentence saying what is wrong, or ``None``.
    """
    spec = campaign.role(role)
    if spec is None or not spec.may_override:
        return f"{actor} ({role}) may not authorise an override"
    if spec.scope == "prefecture" and actor_jurisdiction != case_prefecture:
        return f"{actor} may authorise overrides only in {actor_jurisdiction}"
    return None
