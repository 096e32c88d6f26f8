"""The OpenAPI 3.1 document, generated from the app's URL map and each view's :class:`RouteSpec`.

Nothing is written twice: a route declared with :func:`cleanroom.web.routing.route` appears here
with its path parameters (from the URL rule's converters), its body schema, its responses and the
problem responses it can produce.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apispec import APISpec
from flask import Flask
from werkzeug.routing import Rule

from cleanroom import __version__
from cleanroom.web.errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from cleanroom.web.parsing import IDEMPOTENCY_PARAMETER, PAGE_PARAMETERS
from cleanroom.web.routing import ResponseDoc, RouteSpec, route_spec
from cleanroom.web.schema import NamedSchema, SchemaLike

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `code` is the stable, machine-readable part.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": f"{PROBLEM_TYPE_BASE}<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": "string", "description": "On 5xx: quote it to the operator."},
        "errors": {
            "type": "array",
            "description": "Template rejections: one entry per violated rule (line and column in "
            "the SQL). Dataset problems (`dataset_invalid`): one entry per problem, with the "
            "column and the 1-based data row where it is known.",
            "items": {
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["code", "message", "line", "column"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "line": {"type": "integer"},
                            "column": {"type": "integer"},
                        },
                    },
                    {
                        "type": "object",
                        "required": ["message", "column", "row"],
                        "properties": {
                            "message": {"type": "string"},
                            "column": {"type": ["string", "null"]},
                            "row": {"type": ["integer", "null"]},
                        },
                    },
                ]
            },
        },
        "requested": {"type": "object", "additionalProperties": {"type": "number"}},
        "remaining": {"type": "object", "additionalProperties": {"type": "number"}},
    },
}
RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "Seconds after which a retry may succeed.",
    "schema": {"type": "integer", "minimum": 1},
}
# Problem responses that carry Retry-After, by component name.
RETRY_RESPONSES = {
    "TooManyRequests": "A rate limit was hit (too_many_requests); retry after Retry-After.",
    "Unavailable": "An outage of the store or the data volume, or not ready "
    "(service_unavailable); nothing was done, retry after Retry-After.",
}
_RETRY_STATUSES = {429: "TooManyRequests", 503: "Unavailable"}
_CONVERTER_SCHEMAS: Mapping[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
}
_RULE_ARGUMENT = re.compile(
    r"<(?:([a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>"
)


def build_openapi(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented route of ``app``."""
    spec = APISpec(
        title="cleanroom",
        version=__version__,
        openapi_version="3.1.0",
        info={"description": "Data clean room for retail media. See docs/api.md."},
    )
    spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("Problem", PROBLEM_SCHEMA)
    spec.components.response(
        "Problem",
        {
            "description": "An error (RFC 9457 problem details).",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    )
    for name, description in RETRY_RESPONSES.items():
        spec.components.response(
            name,
            {
                "description": description,
                "headers": {"Retry-After": RETRY_AFTER_HEADER},
                "content": {
                    PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            },
        )
    named: dict[str, NamedSchema] = {}
    by_path: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        found = route_spec(app.view_functions[rule.endpoint])
        if found is None:
            continue
        path, parameters = _path_and_parameters(rule)
        operations = by_path.setdefault(path, {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operations[method.lower()] = _operation(found, rule.endpoint, parameters, named)
    published: set[str] = set()
    while pending := sorted(set(named) - published):  # a named schema may name others
        for name in pending:
            spec.components.schema(name, _to_openapi(named[name].schema, named))
            published.add(name)
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _path_and_parameters(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    parameters: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "default", match.group(2)
        schema = _CONVERTER_SCHEMAS.get(converter, {"type": "string"})
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return _RULE_ARGUMENT.sub(replace, rule.rule), parameters


def _operation(
    spec: RouteSpec,
    endpoint: str,
    path_parameters: list[dict[str, Any]],
    named: dict[str, NamedSchema],
) -> dict[str, Any]:
    parameters = (
        list(path_parameters) + [dict(p) for p in spec.query] + [dict(h) for h in spec.headers]
    )
    if spec.paginated:
        parameters += [dict(p) for p in PAGE_PARAMETERS]
    if spec.idempotent:
        parameters.append(dict(IDEMPOTENCY_PARAMETER))
    operation: dict[str, Any] = {
        "operationId": re.sub(r"[^A-Za-z0-9_]", "_", endpoint),
        "summary": spec.summary,
        "tags": list(spec.tags),
        "responses": {str(status): _response(doc, named) for status, doc in spec.responses.items()},
    }
    if spec.description:
        operation["description"] = spec.description
    if parameters:
        operation["parameters"] = parameters
    if spec.request_schema is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                spec.request_media_type: {"schema": _to_openapi(spec.request_schema, named)}
            },
        }
    error_statuses = set(spec.errors) | {500}
    if spec.rate_limit is not None:
        error_statuses.add(429)
    if spec.auth:
        operation["security"] = [{"bearerAuth": []}]
        error_statuses.update((401, 503))  # every authenticated route reads the store
    else:
        operation["security"] = []
    if spec.request_schema is not None or parameters:
        error_statuses.add(400)
    if spec.request_schema is not None:
        error_statuses.update((413, 415))
    for status in sorted(error_statuses):
        component = _RETRY_STATUSES.get(status, "Problem")
        operation["responses"].setdefault(
            str(status), {"$ref": f"#/components/responses/{component}"}
        )
    return operation


def _response(doc: ResponseDoc, named: dict[str, NamedSchema]) -> dict[str, Any]:
    response: dict[str, Any] = {"description": doc.description}
    content: dict[str, Any] = {}
    if doc.schema is not None:
        content[doc.media_type] = {"schema": _to_openapi(doc.schema, named)}
    for media_type, schema in doc.alternatives.items():
        content[media_type] = {"schema": _to_openapi(schema, named)}
    if content:
        response["content"] = content
    if doc.headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in doc.headers.items()
        }
    return response


def _to_openapi(schema: SchemaLike | Any, named: dict[str, NamedSchema]) -> Any:
    """A plain JSON Schema with every :class:`NamedSchema` replaced by a ``$ref``."""
    if isinstance(schema, NamedSchema):
        seen = named.setdefault(schema.name, schema)
        if seen is not schema:
            raise ValueError(f"two different schemas are named {schema.name!r}")
        return {"$ref": f"#/components/schemas/{schema.name}"}
    if isinstance(schema, Mapping):
        return {key: _to_openapi(value, named) for key, value in schema.items()}
    if isinstance(schema, list | tuple):
        return [_to_openapi(item, named) for item in schema]
    return schema
