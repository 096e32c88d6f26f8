"""The last stage: a check over the compiled query itself, independent of how it was built.

Whatever the checker believed about a template, the SQL the engine receives must satisfy:

1. every table reference is either a wrapper's engine view (marked by the dataset rewrite: the
   consent, suppression and row-cap filters around it) or a CTE defined by an enclosing ``WITH``;
2. every reference to an internal column (the reserved ``cr_`` namespace) binds to exactly one
   column of that name produced by the rewrite in the FROM items of its SELECT, and no column or
   alias outside the rewrite's own stages spells an internal name.

A failure here is a bug in the compiler, never a property of the template: it raises
:class:`~cleanroom.errors.InternalError` (no run is charged; nothing about the template leaks).

>>> from sqlglot import parse_one
>>> verify_compiled(parse_one("WITH a AS (SELECT 1 AS x) SELECT x FROM a"))
>>> verify_compiled(parse_one("SELECT x FROM cr_ds_t"))
Traceback (most recent call last):
...
cleanroom.errors.InternalError: the compiled query reads an unwrapped table; this is a bug
"""

from __future__ import annotations

from sqlglot import exp

from cleanroom.errors import InternalError
from cleanroom.policy.rewrite_datasets import WRAPPED
from cleanroom.types import is_reserved_name


def _cte_names_visible(node: exp.Expr) -> set[str]:
    names: set[str] = set()
    current: exp.Expr | None = node
    while current is not None:
        with_ = current.args.get("with_") if isinstance(current, exp.Query) else None
        if isinstance(with_, exp.With):
            names.update(cte.alias.lower() for cte in with_.expressions)
        current = current.parent
    return names


def _projection_names(select: exp.Expr) -> list[str]:
    if isinstance(select, exp.Select):
        return [e.alias_or_name.lower() for e in select.expressions]
    return []


def _source_columns(select: exp.Select) -> list[list[str]]:
    """The projection names of each FROM item of ``select`` (CTEs and derived tables)."""
    items: list[exp.Expr] = []
    from_ = select.args.get("from_")
    if from_ is not None:
        items.append(from_.this)
    items.extend(j.this for j in select.args.get("joins") or [])
    out: list[list[str]] = []
    for item in items:
        if isinstance(item, exp.Subquery):
            out.append(_projection_names(item.this))
        elif isinstance(item, exp.Table):
            name = item.name.lower()
            ctes = _cte_definitions(select)
            out.append(_projection_names(ctes[name]) if name in ctes else [])
    return out


def _cte_definitions(node: exp.Expr) -> dict[str, exp.Expr]:
    found: dict[str, exp.Expr] = {}
    current: exp.Expr | None = node
    while current is not None:
        with_ = current.args.get("with_") if isinstance(current, exp.Query) else None
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                found.setdefault(cte.alias.lower(), cte.this)
        current = current.parent
    return found


def _own_select(node: exp.Expr) -> exp.Select | None:
    ancestor = node.find_ancestor(exp.Select)
    return ancestor if isinstance(ancestor, exp.Select) else None


def verify_compiled(tree: exp.Expr) -> None:
    """Raise InternalError unless ``tree`` reads only wrapped sources and binds internal names
    to the rewrite's own columns."""
    for table in tree.find_all(exp.Table):
        if table.meta.get(WRAPPED):
            continue
        if table.name.lower() not in _cte_names_visible(table):
            raise InternalError("the compiled query reads an unwrapped table; this is a bug")
    for column in tree.find_all(exp.Column):
        name = column.name.lower()
        if not is_reserved_name(name) or column.table:
            continue
        select = _own_select(column)
        if select is None:
            raise InternalError("an internal column is outside any SELECT; this is a bug")
        binding = [cols.count(name) for cols in _source_columns(select)]
        if sum(binding) != 1:
            raise InternalError(
                "an internal column does not bind to exactly one rewrite column; this is a bug"
            )
