"""Re-keying suppression lists (opted-out people) into the collaboration's pids.

The same rules as a dataset's identifier column: SHA-256 digests as 64 hex or 44 base64
characters, blanks dropped, raw emails and phone numbers refused (nothing is stored). The result
is the sorted list of distinct 32-byte pids.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

from cleanroom.errors import DatasetInvalid, InvalidRequest
from cleanroom.ingest.identifiers import identifier_sql, pid_sql, quote
from cleanroom.ingest.keys import collaboration_key, hmac_pads
from cleanroom.ingest.source import (
    DEFAULT_LIMITS,
    ReadLimits,
    check_size,
    detect_format,
    open_source,
    read_error,
    table_connection,
)
from cleanroom.ingest.validate import raise_problems

_PREFERRED_COLUMNS = ("identifier", "email_sha256", "phone_sha256", "sha256", "hash")


def _distinct_pids(
    con: duckdb.DuckDBPyConnection, column: str, source_type: str, key: bytes, row_word: str
) -> list[bytes]:
    ident = identifier_sql(quote(column), source_type)
    raise_problems(con, (column, ident), [], row_word=row_word)
    pid = pid_sql("d", "$1", "$2")
    sql = (
        f"SELECT DISTINCT {pid} AS pid FROM (SELECT {ident.digest} AS d FROM src) "
        "WHERE d IS NOT NULL ORDER BY pid"
    )
    return [bytes(row[0]) for row in con.sql(sql, params=list(hmac_pads(key))).fetchall()]


def rekey_identifiers(
    values: Iterable[str], *, secret_key: str | bytes, collaboration_id: str
) -> list[bytes]:
    """Distinct pids (sorted) of hashed identifiers; blanks are skipped.

    >>> import hashlib
    >>> digest = hashlib.sha256(b"user@example.com").hexdigest()
    >>> values = [digest, digest.upper(), " "]
    >>> pids = rekey_identifiers(values, secret_key="s", collaboration_id="c")
    >>> len(pids), len(pids[0])
    (1, 32)
    """
    items = list(values)
    if not all(v is None or isinstance(v, str) for v in items):
        raise InvalidRequest("identifiers must be strings (hashed identifiers)")
    key = collaboration_key(secret_key, collaboration_id)
    table = pa.table({"identifier": pa.array(items, type=pa.string())})
    con = table_connection("src", table)
    try:
        return _distinct_pids(con, "identifier", "VARCHAR", key, "position")
    finally:
        con.close()


def rekey_identifier_file(
    path: Path,
    *,
    secret_key: str | bytes,
    collaboration_id: str,
    column: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[bytes]:
    """Distinct pids (sorted) of the hashed identifiers in a CSV (or Parquet) file.

    The column is ``column``, else the first of identifier/email_sha256/phone_sha256/sha256/hash
    present, else the file's first column.
    """
    path = Path(path).resolve()
    check_size(path, None)
    fmt = detect_format(path, None)
    key = collaboration_key(secret_key, collaboration_id)
    opened = open_source(path, fmt, limits)
    try:
        names = list(opened.columns)
        if column is not None:
            chosen = opened.find(column)
            if chosen is None:
                raise DatasetInvalid(f"the file has no column '{column}'")
        else:
            lowered = {n.lower(): n for n in names}
            chosen = next((lowered[p] for p in _PREFERRED_COLUMNS if p in lowered), names[0])
        try:
            return _distinct_pids(opened.con, chosen, opened.columns[chosen], key, "row")
        except duckdb.Error as exc:
            raise read_error(exc, fmt) from None
    finally:
        opened.con.close()
