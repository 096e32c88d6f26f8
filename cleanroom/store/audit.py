"""The append-only, hash-chained audit log, one chain per collaboration.

``hash = sha256(prev_hash + canonical_json(record))`` where the record is
``{seq, collaboration, name, actor, org, details, created_at (ISO-8601)}`` and canonical JSON is
``json.dumps(sort_keys=True, separators=(",", ":"))``; the first event's ``prev_hash`` is 64 zeros.
Appends are serialized per collaboration by locking its ``audit_heads`` row (SQLite: the
``BEGIN IMMEDIATE`` write lock), and ``(collaboration, seq)`` is unique as a second line of defence.
"""

from __future__ import annotations

from cleanroom.events import AuditEvent
from cleanroom.store.db import StoreBase
from cleanroom.store.records import AuditRecord, AuditVerification

GENESIS_HASH = "0" * 64


class AuditMixin(StoreBase):
    def append_audit(self, collaboration_id: str, event: AuditEvent) -> AuditRecord:
        """Append one event to the collaboration's chain (its own transaction)."""
        raise NotImplementedError

    def list_audit(
        self, collaboration_id: str, after_seq: int = 0, limit: int = 100
    ) -> list[AuditRecord]:
        """Events with ``seq > after_seq`` in order, at most ``limit`` (page with the last seq)."""
        raise NotImplementedError

    def verify_audit(self, collaboration_id: str) -> AuditVerification:
        """Recompute the chain; ``first_broken_seq`` names the first record that does not verify."""
        raise NotImplementedError
