"""``/openapi.json``: OpenAPI 3.1, generated from the route declarations, covering every route."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from cleanroom.web.openapi import build_openapi
from cleanroom.web.routing import NamedSchema, ResponseDoc, route
from cleanroom.web.schema import check_declared_schema
from tests.web.sample_routes import install_sample_routes

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in all_refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in all_refs(item)]
    return []


def check_document(app: Flask, document: dict[str, Any]) -> None:
    """Structural validation (openapi-spec-validator is not a dependency)."""
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "cleanroom"
    assert document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    for ref in all_refs(document):  # every $ref resolves
        resolve(document, ref)
    operation_ids: list[str] = []
    for path, item in document["paths"].items():
        assert path.startswith("/")
        declared = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            assert method in METHODS
            operation_ids.append(operation["operationId"])
            assert operation["summary"]
            assert operation["responses"]
            for status, response in operation["responses"].items():
                assert status == "default" or re.fullmatch(r"[1-5]\d\d", status)
                response = resolve(document, response["$ref"]) if "$ref" in response else response
                assert response["description"]
            assert "500" in operation["responses"]
            path_params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert path_params == declared
            for parameter in operation.get("parameters", []):
                assert parameter["in"] in {"path", "query", "header", "cookie"}
                assert "schema" in parameter
            if operation["security"]:
                assert operation["security"] == [{"bearerAuth": []}]
                assert "401" in operation["responses"]
    assert len(operation_ids) == len(set(operation_ids))
    # every Flask route under /v1 (and the server routes) is documented, with its methods
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/v1") or rule.rule in {"/healthz", "/readyz", "/openapi.json"}:
            item = document["paths"][openapi_path(rule.rule)]
            assert {m.lower() for m in rule.methods or ()} - {"head", "options"} <= set(item)


def test_served_document_is_valid_and_complete(app: Flask) -> None:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    check_document(app, document)
    assert {"/healthz", "/readyz", "/openapi.json", "/v1/whoami"} <= set(document["paths"])
    assert document["paths"]["/healthz"]["get"]["security"] == []
    assert document["paths"]["/v1/whoami"]["get"]["security"] == [{"bearerAuth": []}]
    whoami = document["paths"]["/v1/whoami"]["get"]["responses"]["200"]
    ref = whoami["content"]["application/json"]["schema"]["$ref"]
    assert resolve(document, ref)["required"] == ["sub", "org", "role"]


def list_routes(document: dict[str, Any]) -> list[str]:
    """The GET routes that answer a list: a collection whose members have routes of their own
    (``/runs`` beside ``/runs/{rid}``, ``/budget`` beside ``/budget/{org}/raise``) or a paged
    route (a ``cursor`` parameter)."""
    paths = document["paths"]
    found = []
    for path, item in paths.items():
        if "get" not in item:
            continue
        members = any(other.startswith(path + "/{") for other in paths)
        paged = any(p["name"] == "cursor" for p in item["get"].get("parameters", []))
        if members or paged:
            found.append(path)
    return found


def test_every_list_route_answers_items(app: Flask) -> None:
    document = build_openapi(app)
    routes = list_routes(document)
    collab = "/v1/collaborations/{cid}"
    assert set(routes) == {
        "/v1/collaborations",
        *(f"{collab}/{name}" for name in ("datasets", "templates", "runs", "budget", "audit")),
    }
    for path in routes:
        response = document["paths"][path]["get"]["responses"]["200"]
        schema = resolve(document, response["content"]["application/json"]["schema"]["$ref"])
        assert schema["type"] == "object", path
        assert "items" in schema["required"], path
        items = schema["properties"]["items"]
        assert items["type"] == "array", path
        assert "$ref" in items["items"], path  # a named record per item
        others = {k for k, v in schema["properties"].items() if v.get("type") == "array"}
        assert others == {"items"}, path  # the list is items, and only items


def test_declared_routes_are_documented_automatically(make_app: Callable[..., Flask]) -> None:
    app = install_sample_routes(make_app())
    document = build_openapi(app)
    check_document(app, document)
    widgets = document["paths"]["/v1/_test/widgets"]["post"]
    body_schema = widgets["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/TestWidget"}
    assert resolve(document, body_schema["$ref"])["additionalProperties"] is False
    assert {"201", "400", "401", "413", "500"} <= set(widgets["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in widgets["parameters"])
    listing = document["paths"]["/v1/_test/widgets/{wid}"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert params["wid"]["schema"] == {"type": "integer"}
    assert {"limit", "cursor"} <= set(params)
    assert listing["security"] == []


def test_nested_named_schemas_become_components(make_app: Callable[..., Flask]) -> None:
    from flask import Blueprint

    inner = NamedSchema("Inner", {"type": "object", "properties": {"n": {"type": "integer"}}})
    outer = NamedSchema("Outer", {"type": "array", "items": inner})
    bp = Blueprint("nested", __name__)

    @route(bp, "/nested", summary="Nested", responses={200: ResponseDoc("List", outer)})
    def nested() -> dict[str, str]:
        return {}

    app = make_app()
    app.register_blueprint(bp, url_prefix="/v1")
    document = build_openapi(app)
    check_document(app, document)
    assert document["components"]["schemas"]["Outer"]["items"] == {
        "$ref": "#/components/schemas/Inner"
    }
    assert "Inner" in document["components"]["schemas"]


def test_unsupported_schema_keywords_fail_at_declaration() -> None:
    with pytest.raises(ValueError, match="'allOf' is not supported"):
        check_declared_schema({"type": "object", "properties": {"a": {"allOf": []}}})
    with pytest.raises(ValueError, match="not supported"):
        NamedSchema("Bad", {"patternProperties": {}})
