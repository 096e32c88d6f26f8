"""``GET /v1/whoami``: the principal a token speaks for (a cheap way to check a token)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from cleanroom.types import ROLES
from cleanroom.web.auth import current_principal
from cleanroom.web.routing import NamedSchema, ResponseDoc, route

bp = Blueprint("identity", __name__)

PRINCIPAL = NamedSchema(
    "Principal",
    {
        "type": "object",
        "required": ["sub", "org", "role"],
        "properties": {
            "sub": {"type": "string"},
            "org": {"type": "string"},
            "role": {"type": "string", "enum": list(ROLES)},
        },
    },
)


@route(
    bp,
    "/whoami",
    summary="The caller's identity",
    responses={200: ResponseDoc("Who the bearer token says you are.", PRINCIPAL)},
)
def whoami() -> Response:
    """The verified ``sub``, ``org`` and ``role`` of the bearer token."""
    return jsonify(current_principal().to_dict())
