"""Printing for the client commands: aligned text tables by default, JSON with ``--json``.

>>> print(format_table([{"id": "c1", "name": "q3"}, {"id": "c22", "name": None}], ["id", "name"]))
id   name
---  ----
c1   q3
c22  -
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import click


def cell_text(value: Any) -> str:
    """A value as one table cell: numbers without noise digits, nested values as JSON."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as left-aligned columns under a header line."""
    cells = [[cell_text(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


QUIET = "cleanroom.quiet"  # the context key ``--quiet`` sets


def quiet() -> bool:
    """True when the current command was given ``--quiet``."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(QUIET))


def emit(data: Any, as_json: bool, columns: Sequence[str] | None = None) -> None:
    """Print ``data``: JSON for scripts, only the id(s) with ``--quiet``, else a table (lists) or
    ``key: value`` lines."""
    if quiet() and not as_json:
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, Mapping) and item.get("id") is not None:
                click.echo(str(item["id"]))
        return
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        return
    if isinstance(data, list):
        if not data:
            click.echo("(none)")
            return
        click.echo(format_table(data, columns or list(data[0])))
        return
    if isinstance(data, Mapping):
        for key in columns or list(data):
            click.echo(f"{key}: {cell_text(data.get(key))}")
        return
    click.echo(cell_text(data))
