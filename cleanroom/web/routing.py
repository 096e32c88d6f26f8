"""Declaring a route once: URL rule, auth, body schema and responses, for Flask and for OpenAPI.

>>> from flask import Blueprint, request
>>> bp = Blueprint("examples", __name__, url_prefix="/v1")
>>> NEW_THING = NamedSchema("NewThing", {"type": "object", "required": ["name"],
...     "properties": {"name": {"type": "string", "minLength": 1}}, "additionalProperties": False})
>>> @route(bp, "/things", methods=["POST"], summary="Create a thing", request_schema=NEW_THING,
...        responses={201: ResponseDoc("The thing", NEW_THING)}, errors=(409,))
... def create_thing() -> tuple[dict[str, str], int]:
...     return {"name": json_object_body()["name"]}, 201
>>> route_spec(create_thing).auth, route_spec(create_thing).methods
(True, ('POST',))

The wrapper verifies the bearer token (``auth=True``, the default; the view reads
:func:`current_principal`) and checks a JSON body against ``request_schema`` before the view runs,
so a view only sees bodies its schema accepts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from cleanroom.errors import InvalidRequest
from cleanroom.web.auth import require_principal
from cleanroom.web.parsing import DEFAULT_JSON_BODY_BYTES, json_object_body, limit_body
from cleanroom.web.ratelimit import enforce
from cleanroom.web.schema import NamedSchema, SchemaLike, check_declared_schema, schema_violations
from cleanroom.web.state import app_state

__all__ = ["NamedSchema", "ResponseDoc", "RouteSpec", "json_object_body", "route", "route_spec"]

P = ParamSpec("P")
R = TypeVar("R", bound=ResponseReturnValue)
_SPEC_ATTRIBUTE = "cleanroom_route_spec"
JSON = "application/json"


@dataclass(frozen=True)
class ResponseDoc:
    """One documented success response; ``schema`` None means no body (e.g. 204)."""

    description: str
    schema: SchemaLike | None = None
    media_type: str = JSON
    # Other representations of the same resource (e.g. "text/csv" for report downloads).
    alternatives: Mapping[str, SchemaLike] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> description


@dataclass(frozen=True)
class RouteSpec:
    """Everything declared about one view; ``openapi.build_openapi`` reads it back."""

    rule: str
    methods: tuple[str, ...]
    summary: str
    description: str
    tags: tuple[str, ...]
    auth: bool
    request_schema: SchemaLike | None
    request_media_type: str
    responses: Mapping[int, ResponseDoc]
    errors: tuple[int, ...]
    query: tuple[Mapping[str, Any], ...]
    headers: tuple[Mapping[str, Any], ...]
    paginated: bool
    idempotent: bool
    max_body_bytes: int  # of a JSON body
    rate_limit: str | None = None  # the rate-limit group of an expensive route


def route(
    bp: Blueprint,
    rule: str,
    *,
    summary: str,
    responses: Mapping[int, ResponseDoc],
    methods: Sequence[str] = ("GET",),
    description: str | None = None,
    tags: Sequence[str] = (),
    auth: bool = True,
    request_schema: SchemaLike | None = None,
    request_media_type: str = JSON,
    errors: Sequence[int] = (),
    query: Sequence[Mapping[str, Any]] = (),
    headers: Sequence[Mapping[str, Any]] = (),
    paginated: bool = False,
    idempotent: bool = False,
    endpoint: str | None = None,
    max_body_bytes: int = DEFAULT_JSON_BODY_BYTES,
    rate_limit: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Register a view on ``bp`` and record its documentation.

    ``request_schema`` with the JSON media type is enforced (``400 invalid_request`` listing the
    violations); for other media types (multipart uploads) it only documents the form. ``errors``
    lists the error statuses the view can produce beyond the automatic ones (401 with auth, 400
    with a body or query, 500 always). ``query``/``headers`` are OpenAPI parameter objects;
    ``paginated`` adds ``limit``/``cursor`` and ``idempotent`` the ``Idempotency-Key`` header.
    A JSON body (on any route) larger than ``max_body_bytes`` is ``413 payload_too_large``
    before it is read; other bodies (uploads) are bounded by ``max_upload_bytes`` only.
    ``rate_limit`` names the group of an expensive route (``cleanroom.web.ratelimit``): an
    authenticated caller over its limit gets ``429 too_many_requests`` before the view runs.
    """
    if request_schema is not None:
        check_declared_schema(request_schema, f"{rule} request")
    for doc in responses.values():
        if doc.schema is not None:
            check_declared_schema(doc.schema, f"{rule} response")
    upper = tuple(m.upper() for m in methods)
    enforce_json = request_schema is not None and request_media_type == JSON

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        spec = RouteSpec(
            rule=rule,
            methods=upper,
            summary=summary,
            description=description or _docstring(view),
            tags=tuple(tags) or (bp.name,),
            auth=auth,
            request_schema=request_schema,
            request_media_type=request_media_type,
            responses=dict(responses),
            errors=tuple(errors),
            query=tuple(query),
            headers=tuple(headers),
            paginated=paginated,
            idempotent=idempotent,
            max_body_bytes=max_body_bytes,
            rate_limit=rate_limit,
        )

        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            if request_media_type == JSON or request.is_json:
                limit_body(max_body_bytes)
            principal = require_principal() if auth else None
            if rate_limit is not None:
                caller = f"{principal.org}\x1f{principal.sub}" if principal is not None else ""
                limiter = app_state().rate_limiter
                enforce(limiter, rate_limit, caller, request.remote_addr or "")
            if enforce_json and request_schema is not None:
                problems = schema_violations(request_schema, json_object_body())
                if problems:
                    raise InvalidRequest("; ".join(problems))
            return view(*args, **kwargs)

        setattr(guarded, _SPEC_ATTRIBUTE, spec)
        bp.add_url_rule(rule, endpoint=endpoint, view_func=guarded, methods=list(upper))
        return guarded

    return decorate


def route_spec(view: Callable[..., Any]) -> RouteSpec | None:
    """The :class:`RouteSpec` of a view declared with :func:`route`, else None."""
    spec = getattr(view, _SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, RouteSpec) else None


def _docstring(view: Callable[..., Any]) -> str:
    return (view.__doc__ or "").strip()
