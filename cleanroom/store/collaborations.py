"""Organizations, collaborations and memberships."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cleanroom.errors import InvalidRequest, NotFound
from cleanroom.store import rows
from cleanroom.store.audit import append_in_session
from cleanroom.store.db import (
    AuditArg,
    StoreBase,
    ensure_org,
    insert_ignore,
    new_id,
    require_collaboration,
)
from cleanroom.store.models import CollaborationRow, MembershipRow, OrganizationRow
from cleanroom.store.records import Collaboration, Organization


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
        collaboration_id: str | None = None,
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
        cid = collaboration_id or new_id("col")
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
                )
            )
            session.add(MembershipRow(collaboration_id=cid, org=retailer_org, role="retailer"))
            session.add_all(
                MembershipRow(collaboration_id=cid, org=org, role="partner") for org in partners
            )
            session.flush()
            append_in_session(session, cid, audit, now, {"collaboration_id": cid})
            return load_collaboration(session, cid)

    def add_partner(
        self, collaboration_id: str, org: str, *, audit: AuditArg = None
    ) -> Collaboration:
        """Add a partner org to a collaboration; no-op when it is already a member."""
        now = self.now()
        with self._write() as session:
            require_collaboration(session, collaboration_id)
            ensure_org(session, org, "advertiser", now)
            added = insert_ignore(
                session,
                MembershipRow,
                [{"collaboration_id": collaboration_id, "org": org, "role": "partner"}],
            )
            if added:
                append_in_session(session, collaboration_id, audit, now, {"partner_org": org})
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

    def get_organization(self, org: str) -> Organization:
        """One organization; ``NotFound`` when unknown."""
        with self._read() as session:
            row = session.get(OrganizationRow, org)
            if row is None:
                raise NotFound("organization not found")
            return rows.organization(row)
