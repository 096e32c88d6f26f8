"""What the review page shows of a template version: its SQL line by line (with the violations
of a rejected submission at their lines) and the diff against the previous version."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cleanroom.errors import Violation
from cleanroom.services.records import Template


@dataclass(frozen=True)
class SqlLine:
    number: int
    text: str
    violations: tuple[Violation, ...] = field(default=())


def sql_lines(sql: str, violations: Iterable[Violation] = ()) -> list[SqlLine]:
    """The SQL's lines (1-based), each with the violations reported at it.

    >>> [(x.number, len(x.violations)) for x in sql_lines("a\\nb", [Violation("c", "m", 2, 1)])]
    [(1, 0), (2, 1)]
    """
    at: dict[int, list[Violation]] = {}
    for violation in violations:
        at.setdefault(violation.line, []).append(violation)
    return [
        SqlLine(n, text, tuple(at.get(n, ()))) for n, text in enumerate(sql.splitlines(), start=1)
    ]


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "added" | "removed" | "context" | "hunk"
    text: str


def diff_lines(old: str, new: str) -> list[DiffLine]:
    """A unified diff of two template texts, line by line, classified for display.

    >>> [(d.kind, d.text) for d in diff_lines("a\\nb\\n", "a\\nc\\n")][1:]
    [('context', 'a'), ('removed', 'b'), ('added', 'c')]
    """
    out = []
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
    for line in list(lines)[2:]:  # the ---/+++ file header says nothing here
        if line.startswith("@@"):
            out.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            out.append(DiffLine("added", line[1:]))
        elif line.startswith("-"):
            out.append(DiffLine("removed", line[1:]))
        else:
            out.append(DiffLine("context", line[1:]))
    return out


def previous_version(template: Template, visible: Sequence[Template]) -> Template | None:
    """The newest earlier version of the same template (same org and name) among ``visible``."""
    earlier = [
        t
        for t in visible
        if t.org == template.org and t.name == template.name and t.version < template.version
    ]
    return max(earlier, key=lambda t: t.version) if earlier else None
