"""Registering officers (actors): an id, a role of the campaign, a jurisdiction.

Registering is an administrator's act, logged (:mod:`appcase.workflow.governance`); the
first administrator registers itself while there is none.
"""

from __future__ import annotations

from appcase.clock import Clock
from appcase.errors import InvalidInput, NotAuthorised
from appcase.limits import MAX_NAME_CHARS, shown_text
from appcase.policies import permissions
from appcase.policies.campaign import Campaign
from appcase.ports import Storage, StoredActor
from appcase.workflow.governance import record_act, require_administrator
from appcase.workflow.pipeline import SYSTEM_ACTOR

__all__ = ["register_actor"]


def register_actor(
    storage: Storage,
    campaign: Campaign,
    clock: Clock,
    actor_id: str,
    role: str,
    jurisdiction: str | None,
    name: str = "",
    *,
    by: str | None,
) -> StoredActor:
    """Register an officer; registering the same actor again with the same role and
    jurisdiction changes nothing (and logs nothing).

    Args:
        storage: the units of work.
        campaign: whose roles and jurisdictions apply (:mod:`appcase.policies.permissions`).
        clock: when the registration happens.
        actor_id: 1-64 printable characters, no spaces, e.g. ``"cs-cac-01"``.
        role / jurisdiction: a role id of the campaign (or ``administrator``) and a
            GB/T 2260 code it may hold (``None``: the province's, for a province role or
            an administrator).
        name: display name: one line of at most :data:`~appcase.limits.MAX_NAME_CHARS`
            printable characters.
        by: the administrator registering it; ``None`` only to register the first
            administrator, while the database holds none.

    Returns:
        The actor as registered (the earlier registration, if the same).

    Raises:
        InvalidInput: bad id, the built-in ``system`` actor or role, an undeclared role, a
            wrong jurisdiction, or the id taken with another role or jurisdiction.
        UnknownActor: ``by`` is not registered.
        NotAuthorised: ``by`` is not an administrator, or is ``None`` while an
            administrator exists or for another role than ``administrator``.
    """
    actor_id = actor_id.strip()
    if not actor_id or len(actor_id) > 64 or not actor_id.isprintable() or " " in actor_id:
        raise InvalidInput(
            f"actor id {shown_text(actor_id, 80)!r} must be 1-64 printable characters, no spaces"
        )
    if len(name) > MAX_NAME_CHARS or not (name.isprintable() or not name):
        raise InvalidInput(
            f"the display name {shown_text(name, 80)!r} must be one line of at most "
            f"{MAX_NAME_CHARS} printable characters (MAX_NAME_CHARS, docs/limits.md)"
        )
    if actor_id == SYSTEM_ACTOR or role == permissions.SYSTEM_ROLE:
        raise InvalidInput("the system actor is built in and cannot be registered")
    if jurisdiction is None:
        spec = campaign.role(role)
        if role != permissions.ADMIN_ROLE and (spec is None or spec.scope != "province"):
            raise InvalidInput(f"give the jurisdiction (a GB/T 2260 code) of {actor_id}")
        jurisdiction = campaign.province.code
    problems = permissions.check_posting(campaign, role, jurisdiction)
    if problems:
        raise InvalidInput("; ".join(p.message for p in problems))
    with storage.transaction() as store:
        require_administrator(store, by, "register an actor")
        admins = store.administrators() if by is None else []
        again = [(a.id, a.jurisdiction) for a in admins] == [(actor_id, jurisdiction)]
        if by is None and (role != permissions.ADMIN_ROLE or (admins and not again)):
            raise NotAuthorised(
                "registering an actor is an administrator's act; with no administrator "
                "acting, only the first administrator may be registered (again: the "
                "same registration changes nothing)",
                "name the acting administrator (appcase --actor ADMIN actor add ...)",
            )
        found = store.actor(actor_id)
        if found is None:
            found = StoredActor(actor_id, role, jurisdiction, name)
            now = clock.now()
            store.add_actor(found, now)
            detail = {"role": role, "jurisdiction": jurisdiction, "name": name}
            record_act(store, by or actor_id, "actor.add", actor_id, detail, now)
        elif (found.role, found.jurisdiction) != (role, jurisdiction):
            raise InvalidInput(
                f"actor {actor_id} is already registered as {found.role} in "
                f"{found.jurisdiction}; choose another id"
            )
    return found
