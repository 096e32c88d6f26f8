"""``/v1/collaborations/<cid>/audit``: the hash-chained audit log, paged, and its verification."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from cleanroom.errors import InvalidRequest
from cleanroom.services import audit
from cleanroom.services.context import Services
from cleanroom.web.api.fragments import TIMESTAMP, record
from cleanroom.web.auth import current_principal
from cleanroom.web.parsing import page_params
from cleanroom.web.routing import ResponseDoc, route
from cleanroom.web.state import current_services

bp = Blueprint("audit", __name__)

AUDIT_EVENT = record(
    "AuditEvent",
    ["seq", "name", "org", "created_at", "prev_hash", "hash", "digest"],
    {
        "collaboration_id": {"type": "string"},
        "seq": {"type": "integer", "minimum": 1},
        "name": {"type": "string", "description": "Dotted event name, e.g. run.created."},
        "actor": {"type": "string", "description": "Absent when withheld."},
        "org": {"type": "string"},
        "details": {"type": "object", "description": "Absent when withheld."},
        "created_at": TIMESTAMP,
        "prev_hash": {"type": "string"},
        "hash": {"type": "string"},
        "digest": {
            "type": ["string", "null"],
            "description": "sha256 of the canonical JSON of {actor, details, salt}; the hash "
            "covers it instead of the clear actor and details (null: a record written before "
            "migration 0003, whose hash covers them).",
        },
        "salt": {
            "type": ["string", "null"],
            "description": "The digest's random salt (hex); absent when withheld.",
        },
        "withheld": {
            "type": "boolean",
            "description": "True for another partner's event: actor, details and salt are not "
            "shown; the hash still verifies from the digest (concepts.md, Who sees what).",
        },
        "redacted": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Detail keys held back from this caller (only in events written by "
            "earlier versions): this record's hash cannot be recomputed from what is shown, "
            "but /audit/verify still checks it.",
        },
        "restricted": {
            "type": "object",
            "description": "Not hashed; only for the members allowed to see it. On run.failed, "
            "the run's error ({code, message}) for the run's org and the retailer org.",
        },
    },
)
AUDIT_PAGE = record(
    "AuditPage",
    ["items", "next_cursor"],
    {
        "items": {"type": "array", "items": AUDIT_EVENT},
        "next_cursor": {
            "type": ["string", "null"],
            "description": "Pass as ?cursor= (or ?after=) for the next page; null on the last.",
        },
    },
)
VERIFICATION = record(
    "AuditVerification",
    ["ok", "events", "first_broken_seq"],
    {
        "ok": {"type": "boolean"},
        "events": {"type": "integer", "minimum": 0},
        "first_broken_seq": {
            "type": ["integer", "null"],
            "description": "The first record that does not verify; null when ok.",
        },
    },
)
AFTER_PARAMETER = {
    "name": "after",
    "in": "query",
    "required": False,
    "description": "Only events with seq greater than this (same as cursor).",
    "schema": {"type": "integer", "minimum": 0},
}


def _after_seq() -> tuple[int, int]:
    page = page_params()
    raw = request.args.get("after", page.cursor)
    if raw is None:
        return 0, page.limit
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise InvalidRequest("after (or cursor) must be the seq of an event, a whole number")
    return int(raw), page.limit


@route(
    bp,
    "/collaborations/<cid>/audit",
    summary="Read the audit log",
    paginated=True,
    query=[AFTER_PARAMETER],
    responses={200: ResponseDoc("Events in order, at most `limit` of them.", AUDIT_PAGE)},
    errors=[403, 404],
)
def list_audit(cid: str) -> dict[str, Any]:
    """Every state change, run, download and refused request of the collaboration; another
    partner's events withheld (position, hashes, digest, name, org and time only)."""
    after, limit = _after_seq()
    found = audit.list_audit(current_services(Services), current_principal(), cid, after, limit)
    next_cursor = str(found[-1].seq) if len(found) == limit else None
    return {"items": [e.to_dict() for e in found], "next_cursor": next_cursor}


@route(
    bp,
    "/collaborations/<cid>/audit/verify",
    summary="Verify the audit hash chain",
    responses={200: ResponseDoc("Whether every record's hash verifies.", VERIFICATION)},
    errors=[403, 404],
)
def verify_audit(cid: str) -> dict[str, Any]:
    """Recomputes the chain from the first record; names the first broken link if any."""
    found = audit.verify_audit(current_services(Services), current_principal(), cid)
    return found.to_dict()
