"""Offline template validation against a collaboration spec file (``cleanroom validate``).

The spec is ``{"policy": {...}, "datasets": [<dataset spec>, ...], "template": {"parameters":
[...], "purpose": "..."}}``; a template file's own header is authoritative, the spec's template
part is used only for a file without a header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanroom.errors import InvalidRequest
from cleanroom.policy import Analysis, analyze_template, parse_template_file
from cleanroom.policy.header import parse_param_line
from cleanroom.types import CollaborationPolicy, DatasetSpec, ParamSpec


@dataclass(frozen=True)
class CollaborationSpec:
    policy: CollaborationPolicy
    datasets: dict[str, DatasetSpec]
    parameters: tuple[ParamSpec, ...]
    purpose: str | None


def parameters_from_json(raw: Any) -> tuple[ParamSpec, ...]:
    """Parameter declarations from JSON ``[{"name", "type", "default"?}]`` (docs/specs.md)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidRequest("template.parameters must be a list")
    params = []
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise InvalidRequest("each template parameter needs a 'name' and a 'type'")
        text = f"{item['name']} {item.get('type')}"
        try:
            spec = parse_param_line(text)
        except ValueError as err:
            raise InvalidRequest(f"template parameter '{item['name']}': {err}") from None
        if "default" in item:
            spec = ParamSpec(spec.name, spec.type, item["default"], True)
        params.append(spec)
    return tuple(params)


def load_collaboration_spec(data: Any) -> CollaborationSpec:
    """Validate a spec document; raises InvalidRequest or DatasetInvalid with a readable message."""
    if not isinstance(data, Mapping):
        raise InvalidRequest("the spec must be a JSON object")
    unknown = sorted(set(data) - {"policy", "datasets", "template"})
    if unknown:
        raise InvalidRequest(f"unknown spec key(s): {', '.join(unknown)}")
    policy = CollaborationPolicy.from_dict(data.get("policy") or {})
    raw_datasets = data.get("datasets")
    if not isinstance(raw_datasets, list) or not raw_datasets:
        raise InvalidRequest("datasets must be a non-empty list of dataset specs")
    datasets: dict[str, DatasetSpec] = {}
    for raw in raw_datasets:
        spec = DatasetSpec.from_dict(raw)
        spec.check_against_policy(policy)
        if spec.name in datasets:
            raise InvalidRequest(f"dataset '{spec.name}' appears twice")
        datasets[spec.name] = spec
    template = data.get("template") or {}
    if not isinstance(template, Mapping):
        raise InvalidRequest("template must be an object")
    purpose = template.get("purpose")
    if purpose is not None and not isinstance(purpose, str):
        raise InvalidRequest("template.purpose must be a string")
    return CollaborationSpec(
        policy, datasets, parameters_from_json(template.get("parameters")), purpose
    )


def validate_template_file(text: str, spec: CollaborationSpec) -> Analysis:
    """Check a template file; raise TemplateRejected (lines counted from the file's first line)."""
    source = parse_template_file(text)
    parameters = source.parameters if source.has_header else spec.parameters
    purpose = source.purpose if source.has_header else spec.purpose
    return analyze_template(
        source.sql,
        parameters,
        purpose or "",
        spec.policy,
        spec.datasets,
        source.bounds,
        line_offset=source.line_offset,
        consent=source.consent,
    )
