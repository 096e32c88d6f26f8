"""The append-only, hash-chained audit log, one chain per collaboration.

``hash = sha256(prev_hash + canonical_json(record))``, canonical JSON being
``json.dumps(sort_keys=True, separators=(",", ":"))`` and the first event's ``prev_hash`` 64 zeros.
The record is ``{seq, collaboration, name, org, created_at (ISO-8601), digest}`` where
``digest = sha256(canonical_json({actor, details, salt}))`` commits to the actor and details under
a random 128-bit ``salt`` (hex) stored with the event. A member from whom an event's actor and
details are withheld (``cleanroom.visibility``) still gets its ``digest`` and recomputes its
``hash``; a member who gets them (and the salt) also recomputes the ``digest``. The salt keeps the
digest from being confirmed by guessing small details (a privacy loss, a count).

Records written before migration 0003 have no salt; their record is ``{seq, collaboration, name,
actor, org, details, created_at}`` with the clear values (``digest`` None), and they verify as
before. Appends are serialized per collaboration by locking its ``audit_heads`` row (``SELECT ...
FOR UPDATE`` on PostgreSQL; on SQLite the ``BEGIN IMMEDIATE`` write lock), and ``(collaboration,
seq)`` is the primary key as a second line of defence. The head also records the last hash, so
deleting the newest events is detected too.

>>> record_hash(GENESIS_HASH, {"seq": 1, "name": "x"})[:12]
'182370ec706a'
>>> details_digest("ana", {"run_id": "run_1"}, "00" * 16)[:12]
'5ecd5001657d'
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from cleanroom.errors import InternalError
from cleanroom.events import AuditEvent
from cleanroom.store import rows
from cleanroom.store.chain import (
    GENESIS_HASH,
    canonical_json,
    details_digest,
    hashed_fields,
    record_hash,
)
from cleanroom.store.db import (
    AuditArg,
    StoreBase,
    audit_events,
    insert_ignore,
    require_collaboration_exists,
)
from cleanroom.store.models import AuditEventRow, AuditHeadRow
from cleanroom.store.records import AuditRecord, AuditVerification

__all__ = [
    "GENESIS_HASH",
    "AuditMixin",
    "append_in_session",
    "append_on_connection",
    "canonical_json",
    "details_digest",
    "hashed_fields",
    "record_hash",
]


def append_in_session(
    session: Session,
    collaboration_id: str,
    audit: AuditArg,
    now: datetime,
    facts: Mapping[str, Any] | None = None,
) -> list[AuditRecord]:
    """Append events inside the caller's write transaction (commit or roll back together).

    ``facts`` (ids, versions, counts the store itself decided) are merged into every event's
    details, overriding the caller's keys of the same name. Call this as the last step of a
    transaction: the audit head is the last lock taken. The session's pending changes are
    flushed first; the chain itself is written with Core statements on the session's connection.
    """
    events = audit_events(audit)
    if not events:
        return []
    session.flush()
    return append_on_connection(session.connection(), collaboration_id, events, now, facts)


# Built once: bound by name, so the compiled statements are reused on every append.
_HEADS = cast(Table, AuditHeadRow.__table__)
_EVENTS = cast(Table, AuditEventRow.__table__)
_LOCK_HEAD = (
    select(_HEADS.c.last_seq, _HEADS.c.last_hash)
    .where(_HEADS.c.collaboration_id == bindparam("h_cid"))
    .with_for_update()
)
_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.collaboration_id == bindparam("h_cid"))
    .values(last_seq=bindparam("h_seq"), last_hash=bindparam("h_hash"))
)


def append_on_connection(
    conn: Connection,
    collaboration_id: str,
    events: Sequence[AuditEvent],
    now: datetime,
    facts: Mapping[str, Any] | None = None,
) -> list[AuditRecord]:
    """:func:`append_in_session` on a Core connection inside its write transaction."""
    if not events:
        return []
    head = conn.execute(_LOCK_HEAD, {"h_cid": collaboration_id}).first()
    if head is None:  # the chain's first event: create the head, then lock it
        # (A head references its collaboration, and collaborations are never deleted, so only
        # a chain without a head needs the existence check.)
        require_collaboration_exists(conn, collaboration_id)
        insert_ignore(
            conn,
            AuditHeadRow,
            [{"collaboration_id": collaboration_id, "last_seq": 0, "last_hash": GENESIS_HASH}],
        )
        head = conn.execute(_LOCK_HEAD, {"h_cid": collaboration_id}).one()
    seq, last_hash = head.last_seq, head.last_hash
    values, out = [], []
    for event in events:
        row = _event_values(collaboration_id, seq + 1, last_hash, event, now, facts or {})
        values.append(row)
        out.append(rows.audit_record(SimpleNamespace(**row)))
        seq, last_hash = row["seq"], row["hash"]
    conn.execute(insert(_EVENTS), values)
    conn.execute(_MOVE_HEAD, {"h_cid": collaboration_id, "h_seq": seq, "h_hash": last_hash})
    return out


def _event_values(
    collaboration_id: str,
    seq: int,
    prev_hash: str,
    event: AuditEvent,
    now: datetime,
    facts: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``audit_events`` row of one event, chained after ``prev_hash``."""
    try:
        details_text = canonical_json({**event.details, **facts})
    except (TypeError, ValueError) as exc:
        raise InternalError("audit details must be plain JSON values; this is a bug") from exc
    details = json.loads(details_text)
    salt = secrets.token_hex(16)
    fields = hashed_fields(
        seq, collaboration_id, event.name, event.actor, event.org, details, now, salt
    )
    return {
        "collaboration_id": collaboration_id,
        "seq": seq,
        "name": event.name,
        "actor": event.actor,
        "org": event.org,
        "details": details_text,
        "created_at": now,
        "prev_hash": prev_hash,
        "hash": record_hash(prev_hash, fields),
        "salt": salt,
    }


class AuditMixin(StoreBase):
    def append_audit(self, collaboration_id: str, event: AuditEvent) -> AuditRecord:
        """Append one event to the collaboration's chain (its own transaction); ``NotFound`` for
        an unknown collaboration."""
        with self._write_rows() as conn:
            return append_on_connection(conn, collaboration_id, (event,), self.now())[0]

    def list_audit(
        self,
        collaboration_id: str,
        after_seq: int = 0,
        limit: int = 100,
        *,
        name: str | None = None,
        before_seq: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditRecord]:
        """Events with ``after_seq < seq`` (and ``seq < before_seq`` when given) in order, at most
        ``limit`` (page with the last seq); only events called ``name`` when given; the newest
        first with ``newest_first``."""
        query = select(AuditEventRow).where(
            AuditEventRow.collaboration_id == collaboration_id, AuditEventRow.seq > after_seq
        )
        if before_seq is not None:
            query = query.where(AuditEventRow.seq < before_seq)
        if name is not None:
            query = query.where(AuditEventRow.name == name)
        order = AuditEventRow.seq.desc() if newest_first else AuditEventRow.seq
        with self._read() as session:
            found = session.scalars(query.order_by(order).limit(max(0, limit))).all()
            return [rows.audit_record(r) for r in found]

    def verify_audit(self, collaboration_id: str) -> AuditVerification:
        """Recompute the chain; ``first_broken_seq`` names the first record that does not verify.

        A record breaks when its seq is not the next number, its ``prev_hash`` is not the previous
        record's hash, or its hash does not match its content. Missing newest records (the head
        says there were more) break at the first missing seq.
        """
        with self._read() as session:
            head = session.get(AuditHeadRow, collaboration_id)
            result = session.execute(
                select(AuditEventRow)
                .where(AuditEventRow.collaboration_id == collaboration_id)
                .order_by(AuditEventRow.seq)
                .execution_options(yield_per=1000)
            ).scalars()
            count, prev, broken = 0, GENESIS_HASH, None
            for row in result:
                count += 1
                if broken is None and not _row_verifies(row, count, prev):
                    broken = count
                prev = row.hash
            head_state = (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)
            if broken is None and head_state != (count, prev):
                broken = count + 1
            return AuditVerification(ok=broken is None, events=count, first_broken_seq=broken)


def _row_verifies(row: AuditEventRow, expected_seq: int, prev_hash: str) -> bool:
    if row.seq != expected_seq or row.prev_hash != prev_hash:
        return False
    try:
        details = json.loads(row.details)
    except ValueError:
        return False
    fields = hashed_fields(
        row.seq, row.collaboration_id, row.name, row.actor, row.org, details, row.created_at,
        row.salt,
    )  # fmt: skip
    return record_hash(prev_hash, fields) == row.hash
