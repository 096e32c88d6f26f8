"""Writing result tables into ``docs/benchmarks.md`` between marker comments, keeping the prose.

A table for ``marker`` replaces whatever lies between ``<!-- bench:marker -->`` and
``<!-- /bench:marker -->``; markers missing from the file are appended at its end under a
heading, so a fresh output file (the smoke test's) gets every table.

>>> text = "intro\\n<!-- bench:x -->\\nold\\n<!-- /bench:x -->\\nafter\\n"
>>> print(replace_block(text, "x", "new"))
intro
<!-- bench:x -->
new
<!-- /bench:x -->
after
<BLANKLINE>
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from benchmarks.common import Table


def replace_block(text: str, marker: str, body: str) -> str:
    begin, end = f"<!-- bench:{marker} -->", f"<!-- /bench:{marker} -->"
    block = f"{begin}\n{body}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + f"\n\n## {marker}\n\n{block}\n"


def write_tables(path: Path, tables: Iterable[Table]) -> None:
    """Rewrite each table's block in ``path`` (created when missing)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    for table in tables:
        text = replace_block(text, table.marker, table.markdown())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
