"""A run's parameter form, generated from the template's declared parameters, and the form's
values turned back into the JSON values the run request takes (the policy checks them again).

>>> fields = parameter_fields([{"name": "days", "type": "int", "default": 14},
...                            {"name": "ids", "type": "list[str]"}])
>>> [(f.name, f.input_type, f.value) for f in fields]
[('days', 'number', '14'), ('ids', 'text', '')]
>>> parse_parameters(fields, {"days": "", "ids": "c1, c2"})
{'ids': ['c1', 'c2']}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cleanroom.errors import InvalidRequest

_INPUT_TYPES = {"int": "number", "float": "number", "date": "date", "bool": "select"}
_HINTS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "timestamp": "a timestamp (YYYY-MM-DD HH:MM:SS)",
    "list[str]": "values separated by commas",
    "list[int]": "whole numbers separated by commas",
}


@dataclass(frozen=True)
class ParameterField:
    name: str
    type: str
    has_default: bool
    value: str  # what the input shows: the submitted text, else the default as text

    @property
    def input_type(self) -> str:
        return _INPUT_TYPES.get(self.type, "text")

    @property
    def hint(self) -> str:
        hint = _HINTS.get(self.type, self.type)
        return f"{hint}; empty for the default" if self.has_default else hint

    @property
    def step(self) -> str | None:
        return {"int": "1", "float": "any"}.get(self.type)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value)
    return "" if value is None else str(value)


def parameter_fields(
    declared: Sequence[Mapping[str, Any]], submitted: Mapping[str, str] | None = None
) -> list[ParameterField]:
    out = []
    for spec in declared:
        name, has_default = str(spec["name"]), "default" in spec
        shown = (submitted or {}).get(name)
        value = shown if shown is not None else _as_text(spec.get("default"))
        out.append(ParameterField(name, str(spec["type"]), has_default, value))
    return out


def parse_parameters(fields: Sequence[ParameterField], form: Mapping[str, str]) -> dict[str, Any]:
    """Parameter name -> value; an empty field is left out (its default applies)."""
    values: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field.name, "").strip()
        if not raw:
            if not field.has_default:
                raise InvalidRequest(f"parameter {field.name} needs a value ({field.hint})")
            continue
        values[field.name] = _parse(field, raw)
    return values


def _parse(field: ParameterField, raw: str) -> Any:
    try:
        if field.type == "int":
            return int(raw)
        if field.type == "float":
            return float(raw)
        if field.type == "bool":
            if raw not in ("true", "false"):
                raise ValueError(raw)
            return raw == "true"
        if field.type.startswith("list["):
            items = [item.strip() for item in raw.split(",") if item.strip()]
            return [int(i) for i in items] if field.type == "list[int]" else items
    except ValueError:
        raise InvalidRequest(f"parameter {field.name} must be {field.hint}") from None
    return raw


def parse_loss(form: Mapping[str, str]) -> dict[str, Any]:
    """The form's privacy loss: epsilon, and delta when given."""
    loss: dict[str, Any] = {}
    for name in ("epsilon", "delta"):
        raw = form.get(name, "").strip()
        if not raw:
            continue
        try:
            loss[name] = float(raw)
        except ValueError:
            raise InvalidRequest(f"{name} must be a number") from None
    if "epsilon" not in loss:
        raise InvalidRequest("epsilon is required: the privacy loss this run may spend")
    return loss
