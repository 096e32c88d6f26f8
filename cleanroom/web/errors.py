"""The one place where errors become RFC 9457 ``application/problem+json`` responses.

Every body is ``{"type", "title", "status", "detail", "code"}`` plus the error's ``extra()``
members (``errors`` for template rejections, ``requested``/``remaining`` for budget refusals).
``type`` is ``https://cleanroom.dev/problems/<code>``, a stable URI per code that docs/api.md
documents. Unexpected exceptions become a generic ``internal_error`` whose body carries only a
request id; the exception itself is logged server-side under that id.
"""

from __future__ import annotations

import errno
import json
import logging
import secrets
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from cleanroom.errors import (
    CleanroomError,
    InternalError,
    ServiceUnavailable,
    TooManyRequests,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://cleanroom.dev/problems/"
REQUEST_ID_HEADER = "X-Request-ID"
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_log = logging.getLogger("cleanroom.web")


# Werkzeug raises these itself (routing, body limits, body parsing), and gunicorn answers some
# before the app sees the request (cleanroom.web.gunicorn_worker); each gets a stable code.
_HTTP_CODES = {
    400: ("invalid_request", "the request could not be understood; check its syntax"),
    401: ("invalid_token", "a valid bearer token is required"),
    403: ("forbidden", "you are not allowed to do this"),
    404: ("not_found", "no resource at this URL; /openapi.json lists the routes"),
    405: ("method_not_allowed", "this URL does not accept that method; see the Allow header"),
    406: ("not_acceptable", "this resource cannot be served in the requested media type"),
    408: (
        "request_timeout",
        "the request arrived too slowly (headers, or the body below the minimum rate); "
        "send it again at full speed",
    ),
    409: ("conflict", "the request conflicts with the resource's current state"),
    413: ("payload_too_large", "the request body is larger than this server accepts"),
    414: ("uri_too_long", "the request line (method, path and query) is too long; shorten it"),
    415: ("unsupported_media_type", "the request body's Content-Type is not accepted here"),
    417: ("expectation_failed", "the Expect header names an expectation this server cannot meet"),
    429: ("too_many_requests", "too many requests; retry later"),
    431: (
        "headers_too_large",
        "a request header, or all of them together, is larger than this server accepts",
    ),
    501: ("not_implemented", "the request uses a transfer coding this server does not support"),
    503: (
        ServiceUnavailable.code,
        "the server is busy with as many uploads and other bodies as it takes; retry after "
        "the Retry-After seconds",
    ),
}


def http_problem(status: int) -> tuple[str, str]:
    """The stable code and detail of a bare HTTP error status (no exception of ours behind it).

    >>> http_problem(431)[0]
    'headers_too_large'
    >>> http_problem(499)[0], http_problem(500)[0]
    ('invalid_request', 'internal_error')
    """
    if status in _HTTP_CODES:
        return _HTTP_CODES[status]
    if status >= 500:
        return InternalError.code, "the server failed to handle this request"
    return "invalid_request", "the request was not accepted"


def problem_type(code: str) -> str:
    """The ``type`` URI of a problem code.

    >>> problem_type("not_found")
    'https://cleanroom.dev/problems/not_found'
    """
    return PROBLEM_TYPE_BASE + code


def problem_document(
    status: int, code: str, title: str, detail: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The RFC 9457 body: ``extra`` members never override the five standard ones.

    >>> problem_document(414, "uri_too_long", "URI Too Long", "shorten it")["type"]
    'https://cleanroom.dev/problems/uri_too_long'
    """
    body: dict[str, Any] = dict(extra or {})
    body.update(
        {
            "type": problem_type(code),
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
        }
    )
    return body


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response; ``extra`` members never override the five standard ones."""
    body = problem_document(status, code, title, detail, extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        # RFC 6750 section 3: say how to authenticate; name the error only when a token was sent.
        challenge = 'Bearer realm="cleanroom"'
        if "Authorization" in request.headers:
            challenge += ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
    return response


def new_request_id() -> str:
    """A fresh random request id (16 hex digits)."""
    return secrets.token_hex(8)


def request_id() -> str:
    """This request's id: a sane incoming ``X-Request-ID`` or a fresh random one."""
    existing = g.get("request_id")
    if isinstance(existing, str):
        return existing
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    if 8 <= len(incoming) <= 64 and all(c.isalnum() or c in "-_." for c in incoming):
        value = incoming
    else:
        value = new_request_id()
    g.request_id = value
    return value


def handle_cleanroom_error(err: CleanroomError) -> Response:
    """A raised :class:`CleanroomError`: its own status, code, title, detail and extras."""
    extra = err.extra()
    headers: dict[str, str] = {}
    if isinstance(err, ServiceUnavailable | TooManyRequests):
        headers["Retry-After"] = str(err.retry_after)
    if isinstance(err, ServiceUnavailable):
        # An outage, not a bug: one line with the driver's reason, which clients never see.
        rid = request_id()
        reason = err.reason or type(err).__name__
        _log.error("request %s: %s (%s)", rid, err.code, reason)
        extra["request_id"] = rid
    elif err.status >= 500:
        rid = request_id()
        _log.error("request %s failed with %s", rid, err.code, exc_info=err)
        extra["request_id"] = rid
    return problem_response(err.status, err.code, err.title, err.detail, extra, headers)


def handle_http_exception(exc: HTTPException) -> Response:
    """Werkzeug's own errors (unknown route, wrong method, body too large, bad syntax)."""
    status = exc.code or 500
    if status >= 500:
        return handle_unexpected(exc)
    code, detail = http_problem(status)
    headers = {}
    if status == 405 and exc.response is None:
        allow = dict(exc.get_headers()).get("Allow")
        if allow:
            headers["Allow"] = allow
    return problem_response(status, code, exc.name, detail, headers=headers)


def handle_unexpected(exc: BaseException) -> Response:
    """Anything else: logged with the request id; the client learns only that id. A full disk
    is an outage, not a bug: ``503 service_unavailable`` with ``Retry-After``."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        full = ServiceUnavailable("the server is out of disk space; nothing was stored, retry soon")
        full.reason = "no space left on the data volume"
        return handle_cleanroom_error(full)
    rid = request_id()
    _log.error("request %s failed with an unexpected error", rid, exc_info=exc)
    generic = InternalError(f"the server failed to handle this request (request id {rid})")
    return problem_response(
        generic.status, generic.code, generic.title, generic.detail, {"request_id": rid}
    )


def _tag_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id()
    return response


def init_app(app: Flask) -> None:
    """Install the handlers; Flask picks the most specific one for each exception."""
    app.register_error_handler(CleanroomError, handle_cleanroom_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
    app.after_request(_tag_request_id)
