"""Naming what is wrong with a file: one scan that counts every problem separately, then an
ordered scan that finds the first failing row of each. Used when the fast path saw a bad row
(and by suppression lists); messages name columns and row numbers, never values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow.compute as pc

from cleanroom.errors import DatasetInvalid, DatasetProblem
from cleanroom.ingest.columns import Check, ColumnPlan
from cleanroom.ingest.identifiers import IdentifierSql, identifier_problem
from cleanroom.ingest.source import check_ordered

_MAX_REPORTED = 5
_LOCATE_BATCH = 1 << 16


@dataclass(frozen=True)
class _Flag:
    sql: str
    column: str
    kind: str  # "email", "phone", "digest" for identifiers
    check: Check | None = None

    def message(self, row: int, row_word: str) -> str:
        if self.check is None:
            return identifier_problem(self.column, self.kind, row, what=row_word).detail
        return self.check.problem(row)


def first_true_rows(con: duckdb.DuckDBPyConnection, flags: Sequence[str]) -> list[int | None]:
    """1-based position in file order of the first row of ``src`` where each flag holds
    (``con`` must keep file order: ``open_source(..., ordered=True)``)."""
    check_ordered(con)
    columns = ", ".join(f"coalesce({sql}, FALSE) AS f{i}" for i, sql in enumerate(flags))
    found: list[int | None] = [None] * len(flags)
    offset = 0
    for batch in con.sql(f"SELECT {columns} FROM src").to_arrow_reader(_LOCATE_BATCH):
        for i in range(len(flags)):
            if found[i] is None:
                index = pc.index(batch.column(i), True).as_py()
                if index >= 0:
                    found[i] = offset + index + 1
        if all(f is not None for f in found):
            break
        offset += batch.num_rows
    return found


def raise_problems(
    con: duckdb.DuckDBPyConnection,
    identifier: tuple[str, IdentifierSql] | None,
    plans: Sequence[ColumnPlan],
    *,
    row_word: str = "row",
) -> None:
    """Raise DatasetInvalid naming each failing column of ``src`` and its first bad row (at
    most five problems, identifier first); return quietly when every row is valid."""
    flags: list[_Flag] = []
    if identifier is not None:
        name, sql = identifier
        # Most specific first: an email-looking value is also "not a digest".
        flags += [
            _Flag(sql.email_like, name, "email"),
            _Flag(sql.phone_like, name, "phone"),
            _Flag(sql.not_digest, name, "digest"),
        ]
    for plan in plans:
        flags += [_Flag(c.sql, c.column, c.kind, c) for c in plan.checks()]
    if not flags:
        return
    counts_sql = ", ".join(f"count(*) FILTER (WHERE coalesce({f.sql}, FALSE))" for f in flags)
    (counts,) = con.sql(f"SELECT {counts_sql} FROM src").fetchall()
    failing = [f for f, n in zip(flags, counts, strict=True) if n]
    if not failing:
        return
    identifier_flags = [f for f in failing if f.check is None]
    reported = (identifier_flags[:1] + [f for f in failing if f.check is not None])[:_MAX_REPORTED]
    rows = first_true_rows(con, [f.sql for f in reported])
    problems = [
        DatasetProblem(f.message(r, row_word), f.column, r)
        for f, r in zip(reported, rows, strict=True)
        if r
    ]
    if not problems:  # counted but not found again: the file changed under us
        raise DatasetInvalid("the file changed while it was being read; upload it again")
    more = len(failing) - len(identifier_flags[1:]) - len(reported)
    suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more > 0 else ""
    detail = "; ".join(p.message for p in problems) + suffix
    raise DatasetInvalid(detail, problems=problems)
