"""Reading a request's input: JSON bodies (and their size), the ``Idempotency-Key`` header,
pagination.

Each reader raises :class:`cleanroom.errors.InvalidRequest` with a message saying what to send
instead; none quotes what was sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flask import g, request

from cleanroom.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from cleanroom.ranges import MAX_JSON_INT

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_CHARS = 200
DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000
MAX_CURSOR_CHARS = 200
CURSOR_PATTERN = f"^[A-Za-z0-9._~=-]{{1,{MAX_CURSOR_CHARS}}}$"
_CURSOR = re.compile(CURSOR_PATTERN)
# A JSON body is parsed into memory whole (about ten times its size in Python objects), so each
# route takes only what it needs; uploads are streamed to disk instead (max_upload_bytes).
DEFAULT_JSON_BODY_BYTES = 1 << 20


def limit_body(max_bytes: int) -> None:
    """Refuse (413) a body whose ``Content-Length`` exceeds ``max_bytes`` before a byte of it is
    read, and cap the stream there (a chunked body has no ``Content-Length``)."""
    app_limit = request.max_content_length
    limit = max_bytes if app_limit is None else min(max_bytes, app_limit)
    request.max_content_length = limit
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(
            f"the body is {length} bytes; this route accepts at most {limit} bytes"
        )


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _bounded_int(text: str) -> int | float:
    """A JSON integer; one beyond 64 bits is read as a number (no integer member takes it, and
    a range check then refuses it with the member's name instead of failing on conversion)."""
    if len(text) <= 25:
        value = int(text)
        if -MAX_JSON_INT - 1 <= value <= MAX_JSON_INT:
            return value
    return float(text)  # may be inf, which no schema accepts as a number


def strict_json(raw: str | bytes) -> Any:
    """``json.loads`` refusing NaN and Infinity (``ValueError``), huge integers read as numbers."""
    return json.loads(raw, parse_constant=_refuse_constant, parse_int=_bounded_int)


def json_object_body() -> dict[str, Any]:
    """The request body as a JSON object (parsed once per request)."""
    cached = g.get("json_body")
    if isinstance(cached, dict):
        return cached
    if not request.is_json:
        if not request.mimetype and not request.content_length:
            raise InvalidRequest("the body is empty; send a JSON object")
        raise UnsupportedMediaType("the body must be JSON: send 'Content-Type: application/json'")
    raw = request.get_data(cache=True)
    if not raw:
        raise InvalidRequest("the body is empty; send a JSON object")
    try:
        # NaN and Infinity are not JSON (RFC 8259) and would poison budgets and bounds.
        value = strict_json(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the body is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    except UnicodeDecodeError:
        raise InvalidRequest("the body is not valid UTF-8 JSON") from None
    except ValueError:
        raise InvalidRequest(
            "the body contains NaN or Infinity, which JSON does not allow"
        ) from None
    except RecursionError:
        raise InvalidRequest("the body is nested too deeply") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"the body must be a JSON object, not {_json_kind(value)}")
    g.json_body = value
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header: None when absent, else 1-200 printable ASCII characters."""
    value = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_IDEMPOTENCY_KEY_CHARS or not all(
        "\x21" <= c <= "\x7e" for c in value
    ):
        raise InvalidRequest(
            f"the {IDEMPOTENCY_KEY_HEADER} header must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} "
            "printable ASCII characters without spaces (a UUID is a good choice)"
        )
    return value


@dataclass(frozen=True)
class Page:
    """Which page of a list: at most ``limit`` items after the opaque ``cursor``."""

    limit: int
    cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"limit": self.limit, "cursor": self.cursor}


def page_params(default_limit: int = DEFAULT_PAGE_LIMIT) -> Page:
    """``?limit=`` (1..1000) and ``?cursor=`` (the ``next_cursor`` of the previous page)."""
    raw_limit = request.args.get("limit")
    limit = default_limit
    if raw_limit is not None:
        if not (raw_limit.isascii() and raw_limit.isdigit()) or not (
            1 <= int(raw_limit) <= MAX_PAGE_LIMIT
        ):
            raise InvalidRequest(f"limit must be an integer from 1 to {MAX_PAGE_LIMIT}")
        limit = int(raw_limit)
    cursor = request.args.get("cursor")
    if cursor is not None and not _CURSOR.fullmatch(cursor):
        raise InvalidRequest("cursor must be the next_cursor value of the previous page")
    return Page(limit=limit, cursor=cursor)


PAGE_PARAMETERS: tuple[dict[str, Any], ...] = (
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"Items per page (default {DEFAULT_PAGE_LIMIT}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT},
    },
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": "The next_cursor of the previous page.",
        "schema": {"type": "string", "pattern": CURSOR_PATTERN},
    },
)
IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_KEY_HEADER,
    "in": "header",
    "required": False,
    "description": "Repeat a request safely: the same key returns the first request's result.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARS},
}
