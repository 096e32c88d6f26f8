"""The last stage: a check over the compiled query itself, independent of how it was built.

Whatever the checker believed about a template, the SQL the engine receives must satisfy:

1. every table reference is either a wrapper's engine view (marked by the dataset rewrite: the
   consent, suppression and row-cap filters around it) or a CTE defined by an enclosing ``WITH``;
2. every reference to an internal column (the reserved ``cr_`` namespace) binds to exactly one
   column of that name among the projections of the FROM items of its own SELECT.

Users cannot spell internal names (the checker refuses them everywhere), so an internal column
reference always comes from the rewrite, and (2) proves the rewrite's stages connect as designed.
A failure here is a bug in the compiler, never a property of the template: it raises
:class:`~cleanroom.errors.InternalError` (no run is charged; nothing about the template leaks).

>>> from sqlglot import parse_one
>>> verify_compiled(parse_one("WITH a AS (SELECT 1 AS cr_x) SELECT cr_x FROM a"))
>>> verify_compiled(parse_one("SELECT x FROM cr_ds_t"))
Traceback (most recent call last):
...
cleanroom.errors.InternalError: the compiled query reads an unwrapped table; this is a bug
>>> verify_compiled(parse_one("WITH a AS (SELECT 1 AS cr_x, 2 AS cr_x) SELECT cr_x FROM a"))
Traceback (most recent call last):
...
cleanroom.errors.InternalError: an internal column does not bind once; this is a bug
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.errors import InternalError
from cleanroom.names import is_reserved_name
from cleanroom.policy.rewrite_datasets import WRAPPED


def _ctes_in_scope(node: exp.Expr) -> dict[str, exp.Expr]:
    """CTE name -> body, for every WITH enclosing ``node`` (innermost first)."""
    found: dict[str, exp.Expr] = {}
    current: exp.Expr | None = node
    while current is not None:
        with_ = current.args.get("with_") if isinstance(current, exp.Query) else None
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                found.setdefault(cte.alias.lower(), cte.this)
        current = current.parent
    return found


def _projections(query: exp.Expr) -> list[str]:
    if isinstance(query, exp.Select):
        return [e.alias_or_name.lower() for e in query.expressions]
    return []


def _source_columns(select: exp.Select) -> list[list[str]]:
    """The projection names of each FROM item of ``select`` (CTEs and derived tables)."""
    items: list[exp.Expr] = []
    from_ = select.args.get("from_")
    if from_ is not None:
        items.append(from_.this)
    items.extend(j.this for j in select.args.get("joins") or [])
    ctes = _ctes_in_scope(select)
    out: list[list[str]] = []
    for item in items:
        if isinstance(item, exp.Subquery):
            out.append(_projections(item.this))
        elif isinstance(item, exp.Table):
            body = ctes.get(item.name.lower())
            out.append(_projections(body) if body is not None else [])
    return out


def verify_compiled(tree: exp.Expr) -> None:
    """Raise InternalError unless ``tree`` reads only wrapped sources and binds internal names
    to the rewrite's own columns."""
    internal: dict[int, tuple[exp.Select, list[str]]] = {}
    for node in tree.walk():
        if isinstance(node, exp.Table):
            if not node.meta.get(WRAPPED) and node.name.lower() not in _ctes_in_scope(node):
                raise InternalError("the compiled query reads an unwrapped table; this is a bug")
        elif isinstance(node, exp.Column) and not node.table and is_reserved_name(node.name):
            select = node.find_ancestor(exp.Select)
            if not isinstance(select, exp.Select):
                raise InternalError("an internal column is outside any SELECT; this is a bug")
            internal.setdefault(id(select), (select, []))[1].append(node.name.lower())
    for select, names in internal.values():
        sources = _source_columns(select)
        for name in set(names):
            if sum(columns.count(name) for columns in sources) != 1:
                raise InternalError("an internal column does not bind once; this is a bug")
