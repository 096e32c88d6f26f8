"""Collecting violations with 1-based line and column, counted from the template file's first line.

>>> from sqlglot import parse_one
>>> collector = ViolationCollector("SELECT\\n  secret FROM t", line_offset=3)
>>> collector.add("unknown_column", parse_one("SELECT\\n  secret FROM t").expressions[0], "no")
>>> collector.violations[0].line, collector.violations[0].column
(5, 3)
"""

from __future__ import annotations

import bisect

from sqlglot import exp

from cleanroom.errors import TemplateRejected, Violation

MAX_SHOWN = 60  # characters of an expression quoted in a message


def describe(node: exp.Expr) -> str:
    """A short rendering of ``node`` for messages (the template's own text, never data)."""
    try:
        text = node.sql(dialect="duckdb", comments=False)
    except Exception:  # noqa: BLE001 - rendering is best-effort for messages only
        text = type(node).__name__
    text = " ".join(text.split())
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def node_start(node: exp.Expr) -> int | None:
    """Character offset where ``node`` starts: the smallest offset among its positioned tokens."""
    best: int | None = None
    for sub in node.walk():
        meta = sub._meta
        if meta and "start" in meta:
            start = meta["start"]
            if best is None or start < best:
                best = start
    return best


class ViolationCollector:
    """Accumulates every violation of one template; ``raise_if_any`` ends the analysis."""

    def __init__(self, text: str, line_offset: int = 0) -> None:
        self.text = text
        self.line_offset = line_offset
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self.violations: list[Violation] = []
        self._seen: set[tuple[str, int, int, str]] = set()

    def position(self, offset: int | None) -> tuple[int, int]:
        if offset is None:
            return 0, 0
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1 + self.line_offset, offset - self._line_starts[index] + 1

    def add_at(self, code: str, message: str, line: int, column: int) -> None:
        key = (code, line, column, message)
        if key not in self._seen:
            self._seen.add(key)
            self.violations.append(Violation(code, message, line, column))

    def add(self, code: str, node: exp.Expr | None, message: str) -> None:
        line, column = self.position(node_start(node) if node is not None else None)
        if node is not None and line:
            message = f"{message} (at '{describe(node)}')"
        elif node is not None:
            message = f"{message} ('{describe(node)}')"
        self.add_at(code, message, line, column)

    def add_offset(self, code: str, offset: int, message: str) -> None:
        line, column = self.position(offset)
        self.add_at(code, message, line, column)

    def raise_if_any(self) -> None:
        if self.violations:
            ordered = sorted(self.violations, key=lambda v: (v.line, v.column, v.code))
            raise TemplateRejected(ordered)
