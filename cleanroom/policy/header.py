"""Template files: a header of ``-- key: value`` lines, then one SELECT (docs/template-language.md).

>>> src = parse_template_file(
...     "-- name: reach\\n-- purpose: measurement\\n-- param: days int = 14\\n"
...     "-- bounds: sales 0 20000\\nSELECT COUNT(DISTINCT pid) FROM exposures\\n")
>>> src.name, src.purpose, src.parameters[0].default, src.bounds["sales"], src.line_offset
('reach', 'measurement', 14, (0.0, 20000.0), 4)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cleanroom.errors import TemplateRejected, Violation
from cleanroom.names import NAME_RE
from cleanroom.policy.params import check_param_value
from cleanroom.specs import (
    MAX_ESTIMATE_SHARE,
    PARAM_TYPES,
    EstimateSpec,
    LiftSpec,
    ParamSpec,
    parse_estimate,
    parse_lift,
)

HEADER_KEYS = (
    "name",
    "description",
    "purpose",
    "param",
    "bounds",
    "weight",
    "lift",
    "estimate",
    "consent",
)
_HEADER_LINE = re.compile(r"^--\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s?(.*)$")
_PARAM = re.compile(r"^([a-z][a-z0-9_]*)\s+(list\[(?:str|int)\]|[a-z]+)\s*(?:=\s*(.+))?$")


@dataclass(frozen=True)
class TemplateSource:
    """A parsed template file: header fields and the SQL body.

    ``line_offset`` is the number of file lines before the body, so a violation at body line ``n``
    is at file line ``n + line_offset``.
    """

    sql: str
    line_offset: int = 0
    name: str | None = None
    description: str | None = None
    purpose: str | None = None
    parameters: tuple[ParamSpec, ...] = ()
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # ``-- weight: sales 3``: an output's share of the run's loss relative to the others (noise
    # allocation only; the guarantee does not depend on it).
    weights: Mapping[str, float] = field(default_factory=dict)
    # ``-- lift: cell test holdout``: a holdout test whose report carries the ``lift`` member
    # (post-processing only; the SQL language and the guarantee do not depend on it).
    lift: LiftSpec | None = None
    # ``-- consent: customers``: a consent analysis. That dataset is read without its consent
    # filter for the template's purpose and carries the total boolean column ``consented``,
    # usable only as a group key of the release (cleanroom.policy.scope, docs/template-language.md).
    consent: str | None = None
    # ``-- estimate: sales 0.99 0.1``: the output's per-person upper bound is estimated at run time
    # by a DP quantile spending that share of the run's epsilon (cleanroom.dp.estimated_bounds).
    estimates: Mapping[str, EstimateSpec] = field(default_factory=dict)
    has_header: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "purpose": self.purpose,
            "parameters": [p.to_dict() for p in self.parameters],
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "weights": dict(self.weights),
            **({"lift": self.lift.to_dict()} if self.lift is not None else {}),
            **({"consent": self.consent} if self.consent is not None else {}),
            **(
                {"estimates": [e.to_dict() for e in self.estimates.values()]}
                if self.estimates
                else {}
            ),
        }


def parse_param_line(value: str) -> ParamSpec:
    """``window_days int = 14`` -> ParamSpec; raises ValueError with a readable reason."""
    match = _PARAM.match(value.strip())
    if not match:
        raise ValueError("a param line is 'name type [= default]', e.g. 'window_days int = 14'")
    name, type_, default_text = match.groups()
    if type_ not in PARAM_TYPES:
        raise ValueError(f"parameter type must be one of {', '.join(PARAM_TYPES)}")
    if not NAME_RE.match(name):
        raise ValueError("parameter names are lower-case letters, digits and underscores")
    if default_text is None:
        return ParamSpec(name, type_)
    try:
        default = json.loads(default_text)
    except json.JSONDecodeError:
        raise ValueError(f"the default of '{name}' must be a JSON literal") from None
    problem = check_param_value(type_, default)
    if problem:
        raise ValueError(f"the default of '{name}' {problem}")
    return ParamSpec(name, type_, default, True)


def _parse_bounds(value: str) -> tuple[str, tuple[float, float]]:
    parts = value.split()
    if len(parts) != 3:
        raise ValueError("a bounds line is 'name lo hi', e.g. 'sales 0 20000'")
    try:
        lo, hi = float(parts[1]), float(parts[2])
    except ValueError:
        raise ValueError("bounds must be numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError("bounds must be finite with lo <= hi")
    return parts[0].lower(), (lo, hi)


def _parse_weight(value: str) -> tuple[str, float]:
    parts = value.split()
    if len(parts) != 2:
        raise ValueError("a weight line is 'output weight', e.g. 'sales 3'")
    try:
        weight = float(parts[1])
    except ValueError:
        raise ValueError("a weight must be a number") from None
    if not (math.isfinite(weight) and 0 < weight <= 1000):
        raise ValueError("a weight must be greater than 0 and at most 1000")
    return parts[0].lower(), weight


def parse_template_file(text: str) -> TemplateSource:
    """Split a template file into header fields and SQL body (TemplateRejected on a bad header)."""
    lines = text.split("\n")
    violations: list[Violation] = []
    fields: dict[str, str] = {}
    params: list[ParamSpec] = []
    bounds: dict[str, tuple[float, float]] = {}
    weights: dict[str, float] = {}
    lift: LiftSpec | None = None
    estimates: dict[str, EstimateSpec] = {}
    body_start = 0
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            body_start = index + 1
            continue
        match = _HEADER_LINE.match(stripped)
        if not match:
            break
        body_start = index + 1
        key, value = match.group(1).lower(), match.group(2).strip()
        lineno = index + 1
        try:
            if key not in HEADER_KEYS:
                raise ValueError(f"unknown header key '{key}' (allowed: {', '.join(HEADER_KEYS)})")
            if key == "param":
                spec = parse_param_line(value)
                if any(p.name == spec.name for p in params):
                    raise ValueError(f"parameter '{spec.name}' is declared twice")
                params.append(spec)
            elif key == "bounds":
                name, pair = _parse_bounds(value)
                bounds[name] = pair
            elif key == "weight":
                name, weight = _parse_weight(value)
                weights[name] = weight
            elif key == "lift":
                if lift is not None:
                    raise ValueError("header key 'lift' appears twice")
                lift = parse_lift(value)
            elif key == "estimate":
                estimate = parse_estimate(value)
                if estimate.output in estimates:
                    raise ValueError(f"output '{estimate.output}' has two estimate lines")
                if sum(e.share for e in estimates.values()) + estimate.share > MAX_ESTIMATE_SHARE:
                    raise ValueError(
                        "the estimate lines' shares of the run's epsilon add up to more than "
                        f"{MAX_ESTIMATE_SHARE:g}"
                    )
                estimates[estimate.output] = estimate
            elif key in fields:
                raise ValueError(f"header key '{key}' appears twice")
            elif key == "consent" and not NAME_RE.match(value):
                raise ValueError("a consent line names one dataset, e.g. 'customers'")
            else:
                fields[key] = value
        except ValueError as err:
            violations.append(Violation("bad_header", str(err), lineno, 1))
    if violations:
        raise TemplateRejected(violations)
    has_header = bool(fields or params or bounds or weights or lift or estimates)
    return TemplateSource(
        sql="\n".join(lines[body_start:]),
        line_offset=body_start,
        name=fields.get("name"),
        description=fields.get("description"),
        purpose=fields.get("purpose"),
        parameters=tuple(params),
        bounds=bounds,
        weights=weights,
        lift=lift,
        consent=fields.get("consent"),
        estimates=estimates,
        has_header=has_header,
    )
