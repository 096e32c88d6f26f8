"""Creating and reading collaborations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cleanroom.errors import Forbidden, InvalidRequest
from cleanroom.events import AuditEvent
from cleanroom.permissions import allowed
from cleanroom.services.access import authorize
from cleanroom.services.context import Services
from cleanroom.store import Collaboration
from cleanroom.types import CollaborationPolicy, Principal

MAX_NAME = 200
MAX_ORG = 200


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRequest(f"{what} must be a non-empty string of at most {limit} characters")
    return value.strip()


def create_collaboration(
    svc: Services,
    who: Principal,
    name: Any,
    partner_orgs: Any,
    policy: Mapping[str, Any] | None,
) -> Collaboration:
    """A retailer admin opens a clean room between its org and ``partner_orgs``."""
    if not allowed(who.role, "collaboration.create"):
        raise Forbidden("only a retailer admin may create a collaboration")
    checked_name = _text(name, "name", MAX_NAME)
    if not isinstance(partner_orgs, list) or not partner_orgs:
        raise InvalidRequest("partner_orgs must be a non-empty list of organization names")
    partners = [_text(p, "each partner org", MAX_ORG) for p in partner_orgs]
    if who.org in partners:
        raise InvalidRequest("the retailer's own org cannot also be a partner")
    checked = CollaborationPolicy.from_dict(policy)
    return svc.store.create_collaboration(
        checked_name,
        who.org,
        partners,
        checked.to_dict(),
        who.sub,
        audit=AuditEvent(
            "collaboration.created",
            who.sub,
            who.org,
            {"name": checked_name, "partner_orgs": partners},
        ),
    )


def list_collaborations(svc: Services, who: Principal) -> list[Collaboration]:
    """The collaborations ``who``'s org is a member of."""
    return svc.store.list_collaborations(who.org)


def get_collaboration(svc: Services, who: Principal, collaboration_id: str) -> Collaboration:
    return authorize(svc, who, collaboration_id, "collaboration.read")


def policy_of(collab: Collaboration) -> CollaborationPolicy:
    """The collaboration's policy as a value object (it was validated when stored)."""
    return CollaborationPolicy.from_dict(collab.policy)
