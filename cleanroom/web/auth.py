"""Who is calling: the bearer token of the request, verified once per request.

Routes declared with ``auth=True`` (the default of :func:`cleanroom.web.routing.route`) call
:func:`require_principal` before the view runs; views read the result with
:func:`current_principal`.
"""

from __future__ import annotations

from flask import g, request

from cleanroom.errors import InternalError, InvalidToken
from cleanroom.services.auth import MAX_TOKEN_BYTES, verify_token
from cleanroom.types import Principal
from cleanroom.web.state import current_settings


def bearer_token() -> str:
    """The token of ``Authorization: Bearer <token>``, or :class:`InvalidToken`."""
    header = request.headers.get("Authorization")
    if header is None:
        raise InvalidToken("this route needs an 'Authorization: Bearer <token>' header")
    if len(header) > MAX_TOKEN_BYTES + 16:
        raise InvalidToken(f"the bearer token must be at most {MAX_TOKEN_BYTES} bytes long")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return token


def require_principal() -> Principal:
    """Verify the request's bearer token (once) and remember the principal for the view."""
    principal = g.get("principal")
    if isinstance(principal, Principal):
        return principal
    principal = verify_token(current_settings(), bearer_token())
    g.principal = principal
    return principal


def current_principal() -> Principal:
    """The principal of an authenticated route; a bug to call from an unauthenticated one."""
    principal = g.get("principal")
    if not isinstance(principal, Principal):
        raise InternalError("current_principal() used on a route without auth; this is a bug")
    return principal
