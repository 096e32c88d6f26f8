"""JSON Schema pieces shared by the resource blueprints (their request and response shapes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cleanroom.web.schema import NamedSchema, SchemaLike

TIMESTAMP: dict[str, Any] = {"type": "string", "format": "date-time"}
OPTIONAL_TIMESTAMP: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
ID: dict[str, Any] = {"type": "string", "minLength": 1}
PRIVACY_LOSS: dict[str, Any] = {
    "type": "object",
    "required": ["epsilon", "delta"],
    "properties": {"epsilon": {"type": "number"}, "delta": {"type": "number"}},
}
PATH_IDS: tuple[str, ...] = ("cid", "did", "tid", "rid")


def record(
    name: str, required: list[str], properties: Mapping[str, Any], description: str = ""
) -> NamedSchema:
    """A response record: the listed members are always present, more may be added later."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": required,
        "properties": dict(properties),
    }
    if description:
        schema["description"] = description
    return NamedSchema(name, schema)


def item_list(name: str, item: SchemaLike, description: str) -> NamedSchema:
    """The shape of every list response: ``{"items": [...]}``."""
    return NamedSchema(
        name,
        {
            "type": "object",
            "description": description,
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": item}},
        },
    )
