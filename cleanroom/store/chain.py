"""The audit chain's hashing, as pure functions (the format is described in ``store.audit``).

>>> record_hash(GENESIS_HASH, {"seq": 1, "name": "x"})[:12]
'182370ec706a'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """The one JSON spelling that is hashed: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """``sha256(prev_hash + canonical_json(record))`` as hex."""
    return hashlib.sha256((prev_hash + canonical_json(record)).encode()).hexdigest()


def details_digest(actor: str, details: Any, salt: str) -> str:
    """The salted commitment to an event's actor and details that its hash covers."""
    committed = {"actor": actor, "details": details, "salt": salt}
    return hashlib.sha256(canonical_json(committed).encode()).hexdigest()


def hashed_fields(
    seq: int,
    collaboration_id: str,
    name: str,
    actor: str,
    org: str,
    details: Any,
    at: datetime,
    salt: str | None,
) -> dict[str, Any]:
    """The record an event's hash covers (module docstring); ``salt`` None: the pre-0003 form."""
    fields: dict[str, Any] = {
        "seq": seq,
        "collaboration": collaboration_id,
        "name": name,
        "org": org,
        "created_at": at.isoformat(),
    }
    if salt is None:
        return {**fields, "actor": actor, "details": details}
    return {**fields, "digest": details_digest(actor, details, salt)}


def first_unverified(events: Sequence[Mapping[str, Any]]) -> int | None:
    """What a member can check itself: the first ``seq`` of the served events (``to_dict`` of
    the audit records, in order from seq 1) whose hash does not verify, or None when all do.

    A record's ``hash`` is recomputed from its public fields and ``digest``; a record served in
    full (with ``salt``) must also match its ``digest``. A record written before 0003 (``digest``
    None) is recomputed from its clear actor and details when the reader got them; when they
    were withheld or redacted it is checked by linkage (``prev_hash``) only, and ``/audit/verify``
    covers it.
    """
    prev = GENESIS_HASH
    for e in events:
        if e["prev_hash"] != prev or not _verifies(prev, e):
            return int(e["seq"])
        prev = e["hash"]
    return None


def _verifies(prev: str, e: Mapping[str, Any]) -> bool:
    public = {
        "seq": e["seq"],
        "collaboration": e["collaboration_id"],
        "name": e["name"],
        "org": e["org"],
        "created_at": e["created_at"],
    }
    shown = not e.get("withheld") and not e.get("redacted")
    digest = e.get("digest")
    if digest is None and not shown:
        return True  # linkage only (docstring)
    if digest is None:
        record = {**public, "actor": e["actor"], "details": e["details"]}
    elif shown and details_digest(e["actor"], e["details"], e["salt"]) != digest:
        return False
    else:
        record = {**public, "digest": digest}
    return bool(record_hash(prev, record) == e["hash"])
