"""The per-collaboration suppression (opt-out) list of 32-byte pids."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select

from cleanroom.errors import InternalError
from cleanroom.store.audit import append_in_session
from cleanroom.store.db import AuditArg, StoreBase, insert_ignore, require_collaboration
from cleanroom.store.models import SuppressionRow

PID_BYTES = 32
_BATCH = 500  # rows per INSERT statement, well under SQLite's bound-parameter limit


class SuppressionsMixin(StoreBase):
    def add_suppressions(
        self, collaboration_id: str, pids: Sequence[bytes], *, audit: AuditArg = None
    ) -> int:
        """Add pids (32 bytes each) to the list; returns how many were new. Idempotent.

        One transaction for the whole list. The pids are inserted in sorted order so concurrent
        uploads of overlapping lists lock rows in the same order (no PostgreSQL deadlock).
        """
        unique = sorted({bytes(p) for p in pids})
        if any(len(p) != PID_BYTES for p in unique):
            raise InternalError("a pid is not 32 bytes; this is a bug")
        now = self.now()
        added = 0
        with self._write() as session:
            require_collaboration(session, collaboration_id)
            for start in range(0, len(unique), _BATCH):
                batch = unique[start : start + _BATCH]
                added += insert_ignore(
                    session,
                    SuppressionRow,
                    [
                        {"collaboration_id": collaboration_id, "pid": p, "added_at": now}
                        for p in batch
                    ],
                )
            append_in_session(
                session, collaboration_id, audit, now, {"added": added, "submitted": len(unique)}
            )
        return added

    def list_suppressed_pids(self, collaboration_id: str) -> list[bytes]:
        """Every suppressed pid of the collaboration (sorted)."""
        with self._read() as session:
            found = session.scalars(
                select(SuppressionRow.pid)
                .where(SuppressionRow.collaboration_id == collaboration_id)
                .order_by(SuppressionRow.pid)
            )
            return [bytes(p) for p in found]

    def count_suppressions(self, collaboration_id: str) -> int:
        """How many pids are suppressed in the collaboration."""
        with self._read() as session:
            count = session.scalar(
                select(func.count()).where(SuppressionRow.collaboration_id == collaboration_id)
            )
            return int(count or 0)

    def remove_suppressions(
        self, collaboration_id: str, pids: Sequence[bytes], *, audit: AuditArg = None
    ) -> int:
        """Take pids off the list (one transaction); returns how many were on it."""
        unique = sorted({bytes(p) for p in pids})
        now = self.now()
        removed = 0
        with self._write() as session:
            require_collaboration(session, collaboration_id)
            for start in range(0, len(unique), _BATCH):
                result = session.execute(
                    delete(SuppressionRow).where(
                        SuppressionRow.collaboration_id == collaboration_id,
                        SuppressionRow.pid.in_(unique[start : start + _BATCH]),
                    )
                )
                removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
            append_in_session(
                session,
                collaboration_id,
                audit,
                now,
                {"removed": removed, "submitted": len(unique)},
            )
        return removed
