"""Creating, reading and amending collaborations.

An amendment changes policy fields and the start and end dates. Each change is classified
(``services.amendments``): tightening ones are applied as asked; if any loosens, the whole
amendment needs ``allow_loosening: true`` and is recorded as a loosening. The amendment is decided
on a fresh read of the collaboration and written only if nothing changed it meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cleanroom.errors import Forbidden, InvalidRequest, PolicyLoosening
from cleanroom.events import CollaborationCreated, CollaborationUpdated
from cleanroom.permissions import allowed
from cleanroom.services.access import authorize, refuse
from cleanroom.services.amendments import LOOSENS, Change, date_changes, policy_changes
from cleanroom.services.context import Services
from cleanroom.services.lifecycle import status
from cleanroom.store import Collaboration
from cleanroom.types import CollaborationPolicy, Principal

MAX_NAME = 200
MAX_ORG = 200
MAX_REASON = 2000
UPDATE_KEYS = ("policy", "starts_at", "ends_at", "allow_loosening", "reason")
LOOSENING_WARNING = (
    "this change loosens the collaboration's terms ({fields}): it weakens the privacy guarantee "
    "already given to the people whose data is in the collaboration, for what was released so far "
    "as well as for what comes next"
)


def text_field(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRequest(f"{what} must be a non-empty string of at most {limit} characters")
    return value.strip()


def reason_of(body: Mapping[str, Any]) -> str | None:
    """The optional ``reason`` of a change (kept in the audit log)."""
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise InvalidRequest(f"reason must be a string of at most {MAX_REASON} characters")
    return reason


def timestamp(value: Any, what: str, now: datetime) -> datetime | None:
    """``null``, ``"now"`` or an ISO-8601 timestamp with a time zone, as an aware datetime."""
    if value is None:
        return None
    if value == "now":
        return now
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        utc = None if parsed is None or parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        utc = None
    if utc is None:
        raise InvalidRequest(
            f'{what} must be null, "now" or an ISO-8601 timestamp with a time zone, '
            'like "2026-03-31T00:00:00Z"'
        )
    return utc


def _check_dates(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise InvalidRequest("ends_at must be later than starts_at")


def create_collaboration(
    svc: Services,
    who: Principal,
    name: Any,
    partner_orgs: Any,
    policy: Mapping[str, Any] | None,
    *,
    starts_at: Any = None,
    ends_at: Any = None,
) -> Collaboration:
    """A retailer admin opens a clean room between its org and ``partner_orgs``."""
    if not allowed(who.role, "collaboration.create"):
        raise Forbidden("only a retailer admin may create a collaboration")
    checked_name = text_field(name, "name", MAX_NAME)
    if not isinstance(partner_orgs, list) or not partner_orgs:
        raise InvalidRequest("partner_orgs must be a non-empty list of organization names")
    partners = [text_field(p, "each partner org", MAX_ORG) for p in partner_orgs]
    if who.org in partners:
        raise InvalidRequest("the retailer's own org cannot also be a partner")
    checked = CollaborationPolicy.from_dict(policy)
    now = svc.store.now()
    starts, ends = timestamp(starts_at, "starts_at", now), timestamp(ends_at, "ends_at", now)
    _check_dates(starts, ends)
    return svc.store.create_collaboration(
        checked_name,
        who.org,
        partners,
        checked.to_dict(),
        who.sub,
        starts_at=starts,
        ends_at=ends,
        audit=CollaborationCreated(name=checked_name, partner_orgs=partners).by(who.sub, who.org),
    )


def list_collaborations(svc: Services, who: Principal) -> list[Collaboration]:
    """The collaborations ``who``'s org is a member of."""
    return svc.store.list_collaborations(who.org)


def get_collaboration(svc: Services, who: Principal, collaboration_id: str) -> Collaboration:
    return authorize(svc, who, collaboration_id, "collaboration.read")


def describe(svc: Services, collab: Collaboration) -> dict[str, Any]:
    """The collaboration's record with its ``status`` now (``scheduled``, ``open``, ``ended``)."""
    return {**collab.to_dict(), "status": status(collab, svc.store.now())}


def policy_of(collab: Collaboration) -> CollaborationPolicy:
    """The collaboration's policy as a value object (it was validated when stored)."""
    return CollaborationPolicy.from_dict(collab.policy)


@dataclass(frozen=True)
class Amendment:
    """An applied (or empty) amendment: the collaboration after it and what changed."""

    collaboration: Collaboration
    changes: tuple[Change, ...]

    @property
    def loosening(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.changes if c.effect == LOOSENS)

    @property
    def warnings(self) -> tuple[str, ...]:
        if not self.loosening:
            return ()
        return (LOOSENING_WARNING.format(fields=", ".join(self.loosening)),)


def update_collaboration(
    svc: Services, who: Principal, collaboration_id: str, body: Mapping[str, Any]
) -> Amendment:
    """Amend policy fields and dates (retailer admin); loosening needs ``allow_loosening``.

    An amendment that changes nothing writes nothing."""
    collab = authorize(svc, who, collaboration_id, "collaboration.update")
    unknown = sorted(set(body) - set(UPDATE_KEYS))
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(unknown)}")
    allow = body.get("allow_loosening", False)
    if not isinstance(allow, bool):
        raise InvalidRequest("allow_loosening must be true or false")
    reason = reason_of(body)
    patch = body.get("policy", {})
    if not isinstance(patch, Mapping):
        raise InvalidRequest("policy must be an object of the policy fields to change")
    current = svc.store.get_collaboration(collab.id)  # decide on the terms as they are now
    old_policy = policy_of(current)
    new_policy = CollaborationPolicy.from_dict({**old_policy.to_dict(), **patch})
    now = svc.store.now()
    old_dates = (current.starts_at, current.ends_at)
    new_dates = (
        timestamp(body["starts_at"], "starts_at", now) if "starts_at" in body else old_dates[0],
        timestamp(body["ends_at"], "ends_at", now) if "ends_at" in body else old_dates[1],
    )
    _check_dates(*new_dates)
    changes = (*policy_changes(old_policy, new_policy), *date_changes(old_dates, new_dates))
    amendment = Amendment(current, changes)
    if not changes:
        return amendment
    if amendment.loosening and not allow:
        refuse(svc, who, current.id, "collaboration.update", PolicyLoosening.code)
        raise PolicyLoosening(list(amendment.loosening))
    stored: dict[str, Any] = {
        c.field: c.new for c in changes if c.field in ("starts_at", "ends_at")
    }
    if len(stored) < len(changes):
        stored["policy"] = new_policy.to_dict()
    event = CollaborationUpdated(
        changes=[c.to_dict() for c in changes],
        loosening=list(amendment.loosening),
        allow_loosening=allow,
        reason=reason,
    )
    updated = svc.store.update_collaboration(
        current.id,
        stored,
        expected_revision=current.revision,
        audit=event.by(who.sub, who.org),
    )
    svc.collaborations.put(updated)
    return Amendment(updated, changes)
