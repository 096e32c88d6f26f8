"""The requests the use cases take, parsed once where they enter (the web edge, the console's
forms, benchmarks and tests build them the same way): a run request, a template submission and a
dataset registration. Parsing checks the shape and every range that needs no collaboration;
the use cases check the rest (the template's parameters and outputs, the collaboration's
policy) against what they load.

>>> r = RunRequest.from_json({"template_id": "tpl_1", "privacy_loss": {"epsilon": 1}})
>>> r.privacy_loss, dict(r.parameters), r.targets
(RequestedLoss(epsilon=1.0, delta=None), {}, None)
>>> RunRequest.from_json({"template_id": "tpl_1", "privacy_loss": {"epsilon": 1}, "x": 1})
Traceback (most recent call last):
...
cleanroom.errors.InvalidRequest: unknown run field(s): x
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cleanroom.dp.split import check_weights
from cleanroom.errors import InvalidRequest
from cleanroom.policy import MAX_SQL_CHARS as MAX_SQL_CHARS  # the request schemas' limit too
from cleanroom.ranges import BOUND, DELTA, EPSILON_PER_RUN
from cleanroom.types import DatasetSpec

RUN_FIELDS = ("template_id", "parameters", "privacy_loss", "weights")
PREVIEW_FIELDS = (*RUN_FIELDS, "targets")
_LOSS_EXAMPLE = '{"epsilon": 1.0, "delta": 1e-7}'


@dataclass(frozen=True)
class RequestedLoss:
    """The privacy loss a request asks for: an epsilon within the per-run range, and a delta, or
    None for the default (a tenth of the collaboration's delta budget when the release needs
    one, else 0; decided by run planning, which knows the release)."""

    epsilon: float
    delta: float | None = None

    @classmethod
    def from_json(cls, raw: Any) -> RequestedLoss:
        if not isinstance(raw, Mapping) or "epsilon" not in raw:
            raise InvalidRequest(f"privacy_loss must be an object like {_LOSS_EXAMPLE}")
        unknown = sorted(str(k) for k in set(raw) - {"epsilon", "delta"})
        if unknown:
            raise InvalidRequest(f"unknown privacy_loss key(s): {', '.join(unknown)}")
        epsilon = float(EPSILON_PER_RUN.check(raw["epsilon"], "privacy_loss.epsilon"))
        delta = raw.get("delta")
        return cls(
            epsilon, None if delta is None else float(DELTA.check(delta, "privacy_loss.delta"))
        )


@dataclass(frozen=True)
class RunRequest:
    """A run (or a preview of one) of an approved template version."""

    template_id: str
    privacy_loss: RequestedLoss
    parameters: Mapping[str, Any] = field(default_factory=dict)
    weights: Mapping[str, float] = field(default_factory=dict)  # per output; the header's too
    targets: Mapping[str, Any] | None = None  # preview only: a half-width per output

    @classmethod
    def from_json(cls, body: Mapping[str, Any], *, preview: bool = False) -> RunRequest:
        """A run request body (``preview``: a preview body, which may also carry targets)."""
        unknown = sorted(str(k) for k in set(body) - {*(PREVIEW_FIELDS if preview else RUN_FIELDS)})
        if unknown:
            raise InvalidRequest(f"unknown run field(s): {', '.join(unknown)}")
        template_id = body.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            raise InvalidRequest("template_id is required")
        parameters = body.get("parameters")
        if parameters is None:
            parameters = {}
        if not isinstance(parameters, Mapping):
            raise InvalidRequest("parameters must be an object of parameter name -> value")
        targets = body.get("targets")
        if targets is not None and (not isinstance(targets, Mapping) or not targets):
            raise InvalidRequest('targets must be an object like {"sales": 500000}')
        return cls(
            template_id=template_id,
            privacy_loss=RequestedLoss.from_json(body.get("privacy_loss")),
            parameters=dict(parameters),
            weights=check_weights(body.get("weights"), "weights"),
            targets=None if targets is None else dict(targets),
        )


@dataclass(frozen=True)
class TemplateSubmission:
    """A template's SQL with what its header may leave out (name, parameters, purpose, bounds);
    a header in the SQL is authoritative."""

    sql: str
    name: str | None = None
    purpose: str | None = None
    parameters: Any = None  # the JSON parameter list; checked only when the SQL has no header
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> TemplateSubmission:
        sql = body.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise InvalidRequest("sql must be the template's SQL text")
        if len(sql) > MAX_SQL_CHARS:
            raise InvalidRequest(f"sql is longer than {MAX_SQL_CHARS} characters")
        name, purpose = body.get("name"), body.get("purpose")
        return cls(
            sql=sql,
            name=name if isinstance(name, str) else None,
            purpose=purpose if isinstance(purpose, str) else None,
            parameters=body.get("parameters"),
            bounds=_bounds(body.get("bounds")),
        )


def _bounds(raw: Any) -> dict[str, tuple[float, float]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidRequest('bounds must be an object like {"sales": [0, 20000]}')
    out = {}
    for key, pair in raw.items():
        ok = isinstance(pair, list) and len(pair) == 2
        if not ok or not all(BOUND.contains(v) for v in pair):
            raise InvalidRequest(f"bounds.{key} must be [lo, hi] of {BOUND.describe()}s")
        if pair[0] > pair[1]:
            raise InvalidRequest(f"bounds.{key} must have lo <= hi")
        out[str(key)] = (float(pair[0]), float(pair[1]))
    return out


@dataclass(frozen=True)
class DatasetRegistration:
    """The spec of an upload (its file is passed beside it) and the file's declared format
    (None: from the file's bytes)."""

    spec: DatasetSpec
    file_format: Literal["csv", "parquet"] | None = None

    @classmethod
    def from_json(
        cls, spec: Any, file_format: Literal["csv", "parquet"] | None = None
    ) -> DatasetRegistration:
        return cls(DatasetSpec.from_dict(spec), file_format)
