"""Who may act on a collaboration: membership first, then the role's permission (as data), then
what of one object the caller sees (``cleanroom.visibility``, as data too).

A principal whose org is not a member gets ``not_found`` (existence is not revealed); a member
without the right gets ``forbidden`` and the refusal is written to the collaboration's audit log.
An object the table hides from a member (another partner's template, run, dataset...) is
``not_found`` too, exactly as an unknown id, and lists leave it out.
Roles are tied to the org's place in the collaboration: ``retailer_admin`` only for the retailer,
``advertiser`` and ``partner_viewer`` only for partners; ``auditor`` for either.
"""

from __future__ import annotations

from cleanroom import visibility
from cleanroom.errors import Forbidden, NotFound
from cleanroom.events import RequestRefused
from cleanroom.permissions import ACTIONS, OWN_ORG, ROLE_PLACES, allowed
from cleanroom.services.context import Services
from cleanroom.store import Collaboration
from cleanroom.types import Principal


def member_collaboration(svc: Services, who: Principal, collaboration_id: str) -> Collaboration:
    """The collaboration when ``who``'s org is a member; ``NotFound`` otherwise.

    Read through the process's short-lived cache (``Services.collaborations``); a refusal is
    always decided on a fresh read of the store."""
    cached = svc.collaborations.get(collaboration_id)
    if cached is not None and cached.member_role(who.org) is not None:
        return cached
    try:
        collab = svc.store.get_collaboration(collaboration_id)
    except NotFound:
        raise NotFound("collaboration not found") from None
    svc.collaborations.put(collab)
    if collab.member_role(who.org) is None:
        raise NotFound("collaboration not found")
    return collab


def authorize(svc: Services, who: Principal, collaboration_id: str, action: str) -> Collaboration:
    """Membership, then the permission for ``action``; refusals are audited."""
    collab = member_collaboration(svc, who, collaboration_id)
    check_allowed(svc, who, collab, action)
    return collab


def check_allowed(svc: Services, who: Principal, collab: Collaboration, action: str) -> None:
    """The permission half of :func:`authorize`, for a collaboration already checked for
    membership: a request needing two permissions reads the collaboration once."""
    place = collab.member_role(who.org)
    if not allowed(who.role, action) or place not in ROLE_PLACES.get(who.role, ()):
        refuse(svc, who, collab.id, action, "forbidden")
        raise Forbidden(f"role {who.role} of {who.org} may not perform {action} here")


def refuse(svc: Services, who: Principal, collaboration_id: str, action: str, code: str) -> None:
    """Record a refused request that reached a collaboration."""
    svc.store.append_audit(
        collaboration_id,
        RequestRefused(action=action, code=code).by(who.sub, who.org),
    )


def require_scope(who: Principal, action: str, owner_org: str, what: str) -> None:
    """An action of scope ``own_org`` (``cleanroom.permissions``) reaches only objects that
    ``who``'s org owns."""
    if ACTIONS[action].scope == OWN_ORG and who.org != owner_org:
        raise Forbidden(f"only {what}'s own organization may do this")


def sight_of(who: Principal, collab: Collaboration, resource: str, owner_org: str | None) -> str:
    """What ``who`` sees of one ``resource`` owned by ``owner_org`` (``cleanroom.visibility``)."""
    return visibility.sight(
        resource, reader_org=who.org, owner_org=owner_org, retailer_org=collab.retailer_org
    )


def can_see(who: Principal, collab: Collaboration, resource: str, owner_org: str | None) -> bool:
    """False when the visibility table hides the object from ``who``."""
    return sight_of(who, collab, resource, owner_org) != visibility.HIDDEN


def require_visible(
    who: Principal, collab: Collaboration, resource: str, owner_org: str | None, what: str
) -> None:
    """``NotFound`` (as for an unknown id) when the object is hidden from ``who``."""
    if not can_see(who, collab, resource, owner_org):
        raise NotFound(f"{what} not found")
