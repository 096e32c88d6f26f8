"""The per-collaboration suppression (opt-out) list of 32-byte pids."""

from __future__ import annotations

from collections.abc import Sequence

from cleanroom.store.db import AuditArg, StoreBase


class SuppressionsMixin(StoreBase):
    def add_suppressions(
        self, collaboration_id: str, pids: Sequence[bytes], *, audit: AuditArg = None
    ) -> int:
        """Add pids (32 bytes each) to the list; returns how many were new. Idempotent."""
        raise NotImplementedError

    def list_suppressed_pids(self, collaboration_id: str) -> list[bytes]:
        """Every suppressed pid of the collaboration (sorted)."""
        raise NotImplementedError

    def count_suppressions(self, collaboration_id: str) -> int:
        """How many pids are suppressed in the collaboration."""
        raise NotImplementedError
