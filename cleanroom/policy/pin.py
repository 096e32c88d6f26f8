"""The approval pin: a hash of the normalized AST with parameter values abstracted.

Whitespace, comments and keyword case do not change it; any change of meaning does.

>>> a = template_pin("select COUNT(distinct pid) from exposures -- hi", [])
>>> a == template_pin("SELECT count(DISTINCT pid)\\nFROM exposures", [])
True
>>> a == template_pin("SELECT COUNT(*) FROM exposures", [])
False
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from sqlglot import exp

from cleanroom.errors import TemplateRejected
from cleanroom.policy.parse import parse_select
from cleanroom.policy.violations import ViolationCollector
from cleanroom.specs import ParamSpec

PIN_VERSION = "cleanroom-pin-1"


def normalized_sql(tree: exp.Expr) -> str:
    """Canonical text of a parsed template: unquoted identifiers lower-cased, no comments."""
    copy = tree.copy()
    for ident in copy.find_all(exp.Identifier):
        if not ident.quoted:
            ident.set("this", ident.this.lower())
    for node in copy.walk():
        node.comments = None
    # copy=False: ``copy`` is already private (the generator would copy it again).
    return copy.sql(dialect="duckdb", normalize=False, comments=False, copy=False)


def pin_of(tree: exp.Expr, parameters: Sequence[ParamSpec], consent: str | None = None) -> str:
    return pin_of_normalized(normalized_sql(tree), parameters, consent)


def pin_of_normalized(
    normalized: str, parameters: Sequence[ParamSpec], consent: str | None = None
) -> str:
    """The pin of a template whose :func:`normalized_sql` is ``normalized``; a consent analysis
    (``-- consent: <dataset>``) pins its dataset too (other templates' pins are unchanged)."""
    payload = json.dumps(
        {
            "v": PIN_VERSION,
            "sql": normalized,
            "params": sorted([p.name, p.type] for p in parameters),
            **({"consent": consent} if consent is not None else {}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def template_pin(sql: str, parameters: Sequence[ParamSpec], consent: str | None = None) -> str:
    """Stable hash of ``sql`` (parameters as placeholders) and the parameters' names and types."""
    collector = ViolationCollector(sql)
    tree = parse_select(sql, collector)
    collector.raise_if_any()
    if tree is None:
        raise TemplateRejected([])
    return pin_of(tree, parameters, consent)
