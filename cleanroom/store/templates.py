"""Query templates: versions per name, and the legal state transitions.

``pending -> approved | rejected`` and ``approved -> revoked``; anything else is a ``Conflict``.
Each transition is a conditional ``UPDATE ... WHERE status = <expected>``, so two admins deciding at
once cannot both win on either dialect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cleanroom.store.db import AuditArg, StoreBase
from cleanroom.store.records import Template


class TemplatesMixin(StoreBase):
    def submit_template(
        self,
        collaboration_id: str,
        name: str,
        org: str,
        submitted_by: str,
        sql: str,
        parameters: Sequence[Mapping[str, Any]],
        purpose: str,
        *,
        bounds: Mapping[str, Any] | None = None,
        analysis: Mapping[str, Any] | None = None,
        pin: str = "",
        template_id: str | None = None,
        audit: AuditArg = None,
    ) -> Template:
        """Store a new ``pending`` template; a name seen before gets the next version number."""
        raise NotImplementedError

    def approve_template(
        self,
        template_id: str,
        decided_by: str,
        *,
        pin: str | None = None,
        reason: str | None = None,
        audit: AuditArg = None,
    ) -> Template:
        """``pending -> approved`` (optionally setting the pin); ``Conflict`` from other states."""
        raise NotImplementedError

    def reject_template(
        self,
        template_id: str,
        decided_by: str,
        *,
        reason: str | None = None,
        audit: AuditArg = None,
    ) -> Template:
        """``pending -> rejected``; ``Conflict`` from any other state."""
        raise NotImplementedError

    def revoke_template(
        self,
        template_id: str,
        decided_by: str,
        *,
        reason: str | None = None,
        audit: AuditArg = None,
    ) -> Template:
        """``approved -> revoked`` (the kill switch); ``Conflict`` from any other state."""
        raise NotImplementedError

    def get_template(self, template_id: str, *, collaboration_id: str | None = None) -> Template:
        """One template version; ``NotFound`` if unknown or in another collaboration."""
        raise NotImplementedError

    def list_templates(
        self, collaboration_id: str, *, name: str | None = None, status: str | None = None
    ) -> list[Template]:
        """Templates of the collaboration by name then version, optionally filtered."""
        raise NotImplementedError
