"""Organizations, collaborations and memberships."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cleanroom.store.db import AuditArg, StoreBase
from cleanroom.store.records import Collaboration, Organization


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
        raise NotImplementedError

    def add_partner(
        self, collaboration_id: str, org: str, *, audit: AuditArg = None
    ) -> Collaboration:
        """Add a partner org to a collaboration; no-op when it is already a member."""
        raise NotImplementedError

    def get_collaboration(self, collaboration_id: str) -> Collaboration:
        """The collaboration with its members; ``NotFound`` when unknown."""
        raise NotImplementedError

    def list_collaborations(self, org: str | None = None) -> list[Collaboration]:
        """All collaborations, or only those ``org`` is a member of (oldest first)."""
        raise NotImplementedError

    def get_organization(self, org: str) -> Organization:
        """One organization; ``NotFound`` when unknown."""
        raise NotImplementedError
