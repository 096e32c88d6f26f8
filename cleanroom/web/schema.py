"""JSON Schemas declared as Python dicts, used twice: to document (OpenAPI) and to check bodies.

A schema may embed a :class:`NamedSchema` anywhere a schema is expected; OpenAPI shows it as a
``$ref`` to ``#/components/schemas/<name>`` and the checker follows it. The checker knows the
subset of JSON Schema listed in ``CHECKED_KEYWORDS`` (plus annotations such as ``description``);
declaring any other validation keyword fails at import time, so the documentation can never
promise a check that is not made. Messages name the failing member by path, never its value.

>>> ITEM = NamedSchema("Item", {"type": "object", "required": ["name"],
...                             "properties": {"name": {"type": "string", "maxLength": 3}}})
>>> schema_violations({"type": "array", "items": ITEM}, [{"name": "ok"}, {"name": "long"}, {}])
['body[1].name: must be at most 3 characters', "body[2]: member 'name' is required"]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanroom.ranges import is_finite_number

CHECKED_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "anyOf",
    }
)
ANNOTATIONS = frozenset(
    {"description", "title", "examples", "default", "format", "deprecated", "readOnly"}
)
MAX_MESSAGES = 20


@dataclass(frozen=True, eq=False)
class NamedSchema:
    """A schema published once under ``name`` in the OpenAPI components."""

    name: str
    schema: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ValueError(f"schema name {self.name!r} is not a valid component name")
        check_declared_schema(self.schema)


SchemaLike = Mapping[str, Any] | NamedSchema


def check_declared_schema(schema: SchemaLike, where: str = "schema") -> None:
    """Raise ``ValueError`` when a declared schema uses a keyword the checker does not know."""
    if isinstance(schema, NamedSchema):
        return  # checked when it was created
    for key, value in schema.items():
        if key not in CHECKED_KEYWORDS and key not in ANNOTATIONS:
            raise ValueError(f"{where}: JSON Schema keyword '{key}' is not supported")
        if key == "properties":
            for name, sub in value.items():
                check_declared_schema(sub, f"{where}.{name}")
        elif (key == "items") or (key == "additionalProperties" and not isinstance(value, bool)):
            check_declared_schema(value, f"{where}[{key}]")
        elif key == "anyOf":
            for index, sub in enumerate(value):
                check_declared_schema(sub, f"{where}.anyOf[{index}]")


def schema_violations(schema: SchemaLike, value: Any, path: str = "body") -> list[str]:
    """What is wrong with ``value`` under ``schema``: one message per problem, at most 20."""
    messages: list[str] = []
    _check(schema, value, path, messages)
    return messages[:MAX_MESSAGES]


_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if name == "integer":
        return isinstance(value, int)
    return is_finite_number(value)


def _check(schema: SchemaLike, value: Any, path: str, out: list[str]) -> None:
    if isinstance(schema, NamedSchema):
        schema = schema.schema
    if "anyOf" in schema and not any(
        not schema_violations(sub, value, path) for sub in schema["anyOf"]
    ):
        out.append(f"{path}: does not match any of the accepted forms")
        return
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(value, name) for name in names):
            out.append(f"{path}: must be " + " or ".join(_TYPE_NAMES[n] for n in names))
            return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        out.append(f"{path}: must be one of {allowed}")
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: must be {schema['const']}")
    if isinstance(value, str):
        _check_string(schema, value, path, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(schema, value, path, out)
    elif isinstance(value, list):
        _check_array(schema, value, path, out)
    elif isinstance(value, dict):
        _check_object(schema, value, path, out)


def _check_string(schema: Mapping[str, Any], value: str, path: str, out: list[str]) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.append(f"{path}: must be at least {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(f"{path}: must be at most {schema['maxLength']} characters")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        out.append(f"{path}: must match the pattern {schema['pattern']}")


def _check_number(schema: Mapping[str, Any], value: float, path: str, out: list[str]) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        out.append(f"{path}: must be at least {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        out.append(f"{path}: must be at most {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        out.append(f"{path}: must be greater than {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        out.append(f"{path}: must be less than {schema['exclusiveMaximum']}")


def _check_array(schema: Mapping[str, Any], value: list[Any], path: str, out: list[str]) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.append(f"{path}: must have at least {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append(f"{path}: must have at most {schema['maxItems']} items")
        return  # do not walk a huge array item by item
    if schema.get("uniqueItems"):
        seen: list[Any] = []
        for item in value:
            if item in seen:
                out.append(f"{path}: items must be unique")
                break
            seen.append(item)
    if "items" in schema:
        for index, item in enumerate(value):
            _check(schema["items"], item, f"{path}[{index}]", out)
            if len(out) >= MAX_MESSAGES:
                return


def _check_object(
    schema: Mapping[str, Any], value: dict[str, Any], path: str, out: list[str]
) -> None:
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        out.append(f"{path}: must have at least {schema['minProperties']} members")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        out.append(f"{path}: must have at most {schema['maxProperties']} members")
        return
    properties: Mapping[str, Any] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            out.append(f"{path}: member '{name}' is required")
    extra = schema.get("additionalProperties", True)
    for name, member in value.items():
        if name in properties:
            _check(properties[name], member, f"{path}.{name}", out)
        elif extra is False:
            # The name is the client's own key; bounded and shown so the typo can be found.
            shown = name if len(name) <= 40 and name.isprintable() else "(unprintable or long)"
            out.append(f"{path}: unknown member '{shown}'")
        elif extra is not True:
            _check(extra, member, f"{path}.{name}", out)
        if len(out) >= MAX_MESSAGES:
            return
