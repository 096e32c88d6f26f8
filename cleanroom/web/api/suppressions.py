"""``/v1/collaborations/<cid>/suppressions``: opt-outs, effective for every later run."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from cleanroom.errors import InvalidRequest
from cleanroom.services import suppressions
from cleanroom.services.context import Services
from cleanroom.services.suppressions import MAX_INLINE
from cleanroom.web.api.fragments import record
from cleanroom.web.api.uploads import UPLOAD_FORM, saved_upload, upload_part
from cleanroom.web.auth import current_principal
from cleanroom.web.routing import NamedSchema, ResponseDoc, json_object_body, route
from cleanroom.web.schema import schema_violations
from cleanroom.web.state import current_services

bp = Blueprint("suppressions", __name__)

IDENTIFIERS = NamedSchema(
    "SuppressionList",
    {
        "type": "object",
        "required": ["identifiers"],
        "additionalProperties": False,
        "properties": {
            "identifiers": {
                "type": "array",
                "maxItems": MAX_INLINE,
                "items": {"type": "string", "description": "SHA-256 hex of a normalized email"},
            }
        },
    },
)
SUPPRESSION_UPLOAD = NamedSchema(
    "SuppressionUpload",
    {
        **UPLOAD_FORM,
        "description": "A CSV of hashed identifiers. Alternatively send application/json "
        '{"identifiers": ["<sha256 hex>", ...]} (at most 100,000).',
    },
)
ADDED = record(
    "SuppressionsAdded",
    ["added"],
    {"added": {"type": "integer", "description": "Identifiers not suppressed before."}},
)

REMOVED = record(
    "SuppressionsRemoved",
    ["removed"],
    {"removed": {"type": "integer", "description": "Identifiers that were on the list."}},
)
COUNT = record(
    "SuppressionCount",
    ["count"],
    {"count": {"type": "integer", "description": "Identifiers on the list."}},
)


@route(
    bp,
    "/collaborations/<cid>/suppressions",
    methods=["POST"],
    summary="Add suppressions (opt-outs)",
    description="Multipart `file` (a CSV of hashed identifiers) or a JSON body "
    '`{"identifiers": [...]}`. Idempotent: an identifier already suppressed is not counted.',
    request_schema=SUPPRESSION_UPLOAD,
    request_media_type="multipart/form-data",
    responses={202: ResponseDoc("How many identifiers were newly suppressed.", ADDED)},
    errors=[403, 404, 413, 422],
    # A hashed identifier is at most 64 hex characters; quoted and separated, 80 bytes is ample.
    max_body_bytes=MAX_INLINE * 80 + 4096,
)
def add_suppressions(cid: str) -> tuple[dict[str, Any], int]:
    """Re-key and add hashed identifiers; the next run excludes them."""
    return _change(cid, suppressions.add_suppressions), 202


def _change(cid: str, change: Any) -> dict[str, Any]:
    svc, who = current_services(Services), current_principal()
    if request.is_json:
        body = json_object_body()
        problems = schema_violations(IDENTIFIERS, body)
        if problems:
            raise InvalidRequest("; ".join(problems))
        done: dict[str, Any] = change(svc, who, cid, identifiers=body["identifiers"])
        return done
    with saved_upload(upload_part()) as path:
        done = change(svc, who, cid, upload=path)
    return done


@route(
    bp,
    "/collaborations/<cid>/suppressions/remove",
    methods=["POST"],
    summary="Remove suppressions",
    description="The same bodies as adding: the identifiers given are taken off the list "
    "(people who opted back in). Retailer admin.",
    request_schema=SUPPRESSION_UPLOAD,
    request_media_type="multipart/form-data",
    responses={200: ResponseDoc("How many identifiers were on the list.", REMOVED)},
    errors=[403, 404, 413, 422],
)
def remove_suppressions(cid: str) -> dict[str, Any]:
    """Re-key hashed identifiers and take them off the list."""
    return _change(cid, suppressions.remove_suppressions)


@route(
    bp,
    "/collaborations/<cid>/suppressions",
    summary="Count suppressions",
    description="How many people the list holds; the identifiers are never read back. "
    "Retailer admin.",
    responses={200: ResponseDoc("The size of the list.", COUNT)},
    errors=[403, 404],
)
def count_suppressions(cid: str) -> dict[str, Any]:
    """The size of the suppression list."""
    return suppressions.count_suppressions(current_services(Services), current_principal(), cid)
