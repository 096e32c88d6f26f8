"""Organizations, collaborations and memberships."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cleanroom.errors import Conflict, InvalidRequest, NotFound
from cleanroom.store import rows
from cleanroom.store.audit import append_in_session
from cleanroom.store.charges import adjust_line, refresh_line_totals
from cleanroom.store.db import (
    AuditArg,
    StoreBase,
    ensure_org,
    new_id,
)
from cleanroom.store.models import CollaborationRow, MembershipRow
from cleanroom.store.records import Collaboration

UPDATABLE = ("policy", "starts_at", "ends_at")


def _lock_collaboration(session: Session, collaboration_id: str) -> CollaborationRow:
    """The collaboration row, locked for the rest of the transaction (``NotFound``)."""
    row = session.scalars(
        select(CollaborationRow)
        .where(CollaborationRow.id == collaboration_id)
        .with_for_update(key_share=True)  # NO KEY UPDATE: inserts referencing it go on
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFound("collaboration not found")
    return row


def load_collaboration(session: Session, collaboration_id: str) -> Collaboration:
    """The collaboration with its members in one round trip (``NotFound`` when unknown)."""
    found = session.execute(
        select(CollaborationRow, MembershipRow)
        .outerjoin(MembershipRow, MembershipRow.collaboration_id == CollaborationRow.id)
        .where(CollaborationRow.id == collaboration_id)
    ).all()
    if not found:
        raise NotFound("collaboration not found")
    members = [m for _, m in found if m is not None]
    return rows.collaboration(found[0][0], members)


class CollaborationsMixin(StoreBase):
    def create_collaboration(
        self,
        name: str,
        retailer_org: str,
        partner_orgs: Sequence[str],
        policy: Mapping[str, Any],
        created_by: str,
        *,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        audit: AuditArg = None,
    ) -> Collaboration:
        """Create a collaboration with its memberships (retailer + partners) in one transaction.

        Organizations are created on first reference (``retailer`` / ``advertiser``). The policy is
        stored as given (validate it with ``CollaborationPolicy`` first). ``audit`` events are
        appended to the new collaboration's chain in the same transaction.
        """
        partners = list(dict.fromkeys(partner_orgs))
        if retailer_org in partners:
            raise InvalidRequest("the retailer org cannot also be a partner of its collaboration")
        cid = new_id("col")
        now = self.now()
        with self._write() as session:
            ensure_org(session, retailer_org, "retailer", now)
            for org in partners:
                ensure_org(session, org, "advertiser", now)
            session.add(
                CollaborationRow(
                    id=cid,
                    name=name,
                    retailer_org=retailer_org,
                    policy=dict(policy),
                    created_at=now,
                    created_by=created_by,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    revision=0,
                )
            )
            session.add(
                MembershipRow(
                    collaboration_id=cid, org=retailer_org, role="retailer", joined_at=now
                )
            )
            session.add_all(
                MembershipRow(collaboration_id=cid, org=org, role="partner", joined_at=now)
                for org in partners
            )
            session.flush()
            append_in_session(session, cid, audit, now, {"collaboration_id": cid})
            return load_collaboration(session, cid)

    def add_partner(
        self,
        collaboration_id: str,
        org: str,
        *,
        budget: tuple[float, float] | None = None,
        audit: AuditArg = None,
    ) -> Collaboration:
        """Add a partner org to a collaboration, or make a former partner one again; a no-op
        (nothing written) when it is already a partner.

        ``budget`` (epsilon, delta) gives a new partner's line totals of its own; without it the
        line follows the policy's budget. A former partner keeps its line, spend included.
        """
        now = self.now()
        with self._write() as session:
            collab = _lock_collaboration(session, collaboration_id)
            if org == collab.retailer_org:
                raise InvalidRequest(
                    "the retailer org cannot also be a partner of its collaboration"
                )
            ensure_org(session, org, "advertiser", now)
            member = session.get(MembershipRow, (collaboration_id, org))
            if member is not None and member.ended_at is None:
                return load_collaboration(session, collaboration_id)
            rejoined = member is not None
            if member is None:
                session.add(
                    MembershipRow(
                        collaboration_id=collaboration_id, org=org, role="partner", joined_at=now
                    )
                )
            else:
                member.joined_at, member.ended_at, member.ended_by = now, None, None
            collab.revision += 1
            session.flush()
            facts: dict[str, Any] = {"partner_org": org, "rejoined": rejoined}
            if budget is not None:
                adjust_line(session, collaboration_id, org, now, total=budget)
            append_in_session(session, collaboration_id, audit, now, facts)
            return load_collaboration(session, collaboration_id)

    def end_membership(
        self, collaboration_id: str, org: str, ended_by: str, *, audit: AuditArg = None
    ) -> Collaboration:
        """End a partner's membership: it stays a member for reading what it did, and may do
        nothing more (``services.lifecycle``). ``Conflict`` when it already ended."""
        now = self.now()
        with self._write() as session:
            collab = _lock_collaboration(session, collaboration_id)
            member = session.get(MembershipRow, (collaboration_id, org))
            if member is None:
                raise NotFound(f"{org} is not a member of this collaboration")
            if member.role != "partner":
                raise InvalidRequest(
                    "the retailer's membership cannot end; end the collaboration instead"
                )
            if member.ended_at is not None:
                raise Conflict(f"the membership of {org} already ended")
            member.ended_at, member.ended_by = now, ended_by
            collab.revision += 1
            session.flush()
            append_in_session(session, collaboration_id, audit, now, {"partner_org": org})
            return load_collaboration(session, collaboration_id)

    def update_collaboration(
        self,
        collaboration_id: str,
        changes: Mapping[str, Any],
        *,
        expected_revision: int,
        audit: AuditArg = None,
    ) -> Collaboration:
        """Set ``policy``, ``starts_at`` and/or ``ends_at`` (the keys of ``changes``) if the
        collaboration is still at ``expected_revision``; ``Conflict`` when it changed since
        (the caller decided on terms that are no longer current)."""
        unknown = sorted(set(changes) - set(UPDATABLE))
        if unknown:
            raise ValueError(f"not updatable: {', '.join(unknown)}; this is a bug")
        now = self.now()
        with self._write() as session:
            collab = _lock_collaboration(session, collaboration_id)
            if collab.revision != expected_revision:
                raise Conflict(
                    "the collaboration changed while this update was decided (revision "
                    f"{expected_revision}, now {collab.revision}); read it again and retry"
                )
            for key, value in changes.items():
                setattr(collab, key, dict(value) if key == "policy" else value)
            collab.revision += 1
            session.flush()
            if "policy" in changes:
                refresh_line_totals(session, collaboration_id, changes["policy"])
            append_in_session(session, collaboration_id, audit, now, {"revision": collab.revision})
            return load_collaboration(session, collaboration_id)

    def get_collaboration(self, collaboration_id: str) -> Collaboration:
        """The collaboration with its members; ``NotFound`` when unknown."""
        with self._read() as session:
            return load_collaboration(session, collaboration_id)

    def list_collaborations(self, org: str | None = None) -> list[Collaboration]:
        """All collaborations, or only those ``org`` is a member of (oldest first)."""
        with self._read() as session:
            query = select(CollaborationRow).order_by(
                CollaborationRow.created_at, CollaborationRow.id
            )
            if org is not None:
                query = query.join(
                    MembershipRow, MembershipRow.collaboration_id == CollaborationRow.id
                ).where(MembershipRow.org == org)
            found = session.scalars(query).all()
            members: dict[str, list[MembershipRow]] = {c.id: [] for c in found}
            if found:
                for m in session.scalars(
                    select(MembershipRow).where(MembershipRow.collaboration_id.in_(members))
                ):
                    members[m.collaboration_id].append(m)
            return [rows.collaboration(c, members[c.id]) for c in found]
