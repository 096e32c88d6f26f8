"""Binding parameter values into the AST as typed literals (never string formatting).

>>> from sqlglot import parse_one
>>> from cleanroom.policy.violations import ViolationCollector
>>> from cleanroom.specs import ParamSpec
>>> tree = parse_one("SELECT a FROM t WHERE b IN ($ids) AND c > $n", read="duckdb")
>>> domains = bind_parameters(tree, [ParamSpec("ids", "list[str]"), ParamSpec("n", "int", 3, True)],
...                           {"ids": ["x", "y"]}, ViolationCollector(""))
>>> tree.sql("duckdb"), list(domains.values())
("SELECT a FROM t WHERE b IN ('x', 'y') AND c > 3", [('x', 'y')])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp

from cleanroom.policy.params import check_param_value, list_literals, literal_for
from cleanroom.policy.violations import ViolationCollector
from cleanroom.specs import ParamSpec


def resolve_values(
    parameters: Sequence[ParamSpec], values: Mapping[str, Any], collector: ViolationCollector
) -> dict[str, Any]:
    """The value of every declared parameter (given, else default), checked against its type."""
    declared = {p.name: p for p in parameters}
    for name in values:
        if name not in declared:
            collector.add_at("unknown_parameter", f"parameter '{name}' is not declared", 0, 0)
    resolved: dict[str, Any] = {}
    for spec in parameters:
        if spec.name in values:
            value = values[spec.name]
        elif spec.has_default:
            value = spec.default
        else:
            continue
        problem = check_param_value(spec.type, value)
        if problem:
            collector.add_at("parameter_type", f"parameter '{spec.name}' {problem}", 0, 0)
            continue
        resolved[spec.name] = value
    return resolved


def parameter_problems(parameters: Sequence[ParamSpec], values: Mapping[str, Any]) -> list[str]:
    """What is wrong with a run's parameter values (unknown names, values of the wrong type,
    declared parameters without a value or default), one phrase each; empty when they fit.

    >>> parameter_problems([ParamSpec("n", "int"), ParamSpec("ids", "list[str]", ["a"], True)],
    ...                    {"n": "14", "x": 1})
    ... # doctest: +NORMALIZE_WHITESPACE
    ["parameter 'x' is not declared",
     "parameter 'n' must be an integer from -2147483648 to 2147483647"]
    """
    collector = ViolationCollector("")
    resolve_values(parameters, values, collector)
    problems = [v.message for v in collector.violations]
    problems += [
        f"parameter '{p.name}' has no value and no default"
        for p in parameters
        if p.name not in values and not p.has_default
    ]
    return problems


def bind_parameters(
    tree: exp.Expr,
    parameters: Sequence[ParamSpec],
    values: Mapping[str, Any],
    collector: ViolationCollector,
) -> dict[int, tuple[Any, ...]]:
    """Replace every placeholder in ``tree``; return id(IN node) -> values of list parameters."""
    declared = {p.name: p for p in parameters}
    resolved = resolve_values(parameters, values, collector)
    in_domains: dict[int, tuple[Any, ...]] = {}
    for node in list(tree.find_all(exp.Placeholder)):
        name = str(node.this or "").lower()
        spec = declared.get(name)
        if not name:
            collector.add(
                "unbound_parameter", node, "anonymous '?' parameters are not allowed; use :name"
            )
            continue
        if spec is None:
            collector.add("unknown_parameter", node, f"parameter ':{name}' is not declared")
            continue
        if name not in resolved:
            if name not in values and not spec.has_default:
                collector.add("unbound_parameter", node, f"parameter ':{name}' has no value")
            continue
        value = resolved[name]
        parent = node.parent
        if spec.type.startswith("list["):
            if not isinstance(parent, exp.In) or (
                parent.args.get("field") is not node and node not in parent.expressions
            ):
                collector.add(
                    "parameter_type",
                    node,
                    f"list parameter ':{name}' may only be used as IN (:{name})",
                )
                continue
            literals = list_literals(spec.type, value)
            others = [e for e in parent.expressions if e is not node]
            parent.set("field", None)
            parent.set("expressions", others + literals)
            if not others:
                in_domains[id(parent)] = tuple(dict.fromkeys(value))
        else:
            node.replace(literal_for(spec.type, value))
    return in_domains
