"""Ingesting one upload: CSV or Parquet in, a validated, minimized, re-keyed Parquet file out.

One scan of the source in a fresh sandboxed DuckDB (see ``source``) selects only the declared,
non-blocked columns, typed (``columns``), with the identifier replaced by
``pid = HMAC-SHA256(K_collab, digest)`` computed in SQL once per distinct digest and joined back
(``scan_query``, which also yields each person's row count: ``max_rows_per_person``), plus one
flag per row that says whether anything in it could not be stored. Arrow batches, read one ahead
in a thread (``prefetch``), stream into ``write_parquet_atomically`` (``pid`` as
FIXED_LEN_BYTE_ARRAY(32)). The first flagged row aborts the write (no file remains) and
``validate`` then names every failing column and its first bad row. Valid files, the common
case, are read once (very large ones: the identifier column twice, see ``scan_query``). A CSV's
rows are counted beforehand without DuckDB (``records``), and the stored rows must add up to that
count before the file is committed.

A metric is stored by its declared type (BIGINT for ``integer``, DOUBLE for ``number``), never by
the values: a value the type cannot hold is a bad row like any other (``ingest.columns``).

Rows with a blank identifier are dropped and counted: they could never join. The uploaded hash is
never written anywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from cleanroom.errors import DatasetInvalid, InternalError, InvalidRequest
from cleanroom.ingest.atomic_parquet import ProgressHook, write_parquet_atomically
from cleanroom.ingest.columns import ColumnPlan, column_plan
from cleanroom.ingest.identifiers import IdentifierSql, identifier_sql, quote
from cleanroom.ingest.keys import collaboration_key
from cleanroom.ingest.prefetch import prefetched
from cleanroom.ingest.scan_query import PID_TYPE as PID_TYPE  # re-exported
from cleanroom.ingest.scan_query import ROWS_COLUMN, ScanQuery, fixed_pids
from cleanroom.ingest.source import (
    DEFAULT_LIMITS,
    FileFormat,
    ReadLimits,
    Source,
    check_size,
    detect_format,
    open_source,
)
from cleanroom.ingest.source import read_error as source_read_error
from cleanroom.ingest.validate import raise_problems
from cleanroom.names import PID
from cleanroom.specs import DatasetSpec

# Row groups of 131,072 rows: small enough that the Parquet write overlaps DuckDB's scan.
DEFAULT_BATCH_ROWS = 1 << 17
# Up to this many rows the key join holds the validated rows in memory (one scan of the source;
# ~200 bytes a row measured: 2 GB at 1e7 rows, 0.45 GB at 1e6); above it they stream and the
# identifier column is read a second time (1e7 Parquet rows: ~15% more CPU, 0.8 GB peak).
MATERIALIZE_MAX_ROWS = 10_000_000
_TYPE_NAMES = {"int64": "BIGINT", "double": "DOUBLE", "string": "VARCHAR", "bool": "BOOLEAN"}


@dataclass(frozen=True)
class IngestResult:
    """What was stored for one upload (the file is ``path``, named ``file_name``)."""

    file_name: str
    path: Path
    rows: int
    dropped_identifiers: int  # rows whose identifier was blank: not stored
    bytes: int  # size of the stored Parquet file
    source_bytes: int
    columns: tuple[tuple[str, str], ...]  # (stored name, SQL type), pid first when personal
    null_counts: dict[str, int] = field(default_factory=dict)
    # The most rows any one pid has in the stored file (exact); None for reference datasets.
    max_rows_per_person: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file_name": self.file_name,
            "rows": self.rows,
            "dropped_identifiers": self.dropped_identifiers,
            "bytes": self.bytes,
            "source_bytes": self.source_bytes,
            "columns": [{"name": n, "type": t} for n, t in self.columns],
            "null_counts": dict(self.null_counts),
            "max_rows_per_person": self.max_rows_per_person,
        }


def _sql_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_fixed_size_binary(arrow_type):
        return f"BLOB({arrow_type.byte_width})"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    return _TYPE_NAMES.get(str(arrow_type), str(arrow_type).upper())


def _plans(
    spec: DatasetSpec, source: Source
) -> tuple[tuple[str, IdentifierSql] | None, list[ColumnPlan]]:
    stored = spec.stored_columns()
    wanted = ([spec.identifier] if spec.identifier is not None else []) + list(stored)
    found = {c.name: source.find(c.name) for c in wanted}
    missing = [name for name, col in found.items() if col is None]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        # The file's own header is not echoed: in a file without one it is a row of data.
        raise DatasetInvalid(
            f"the file has no column {names} declared in the spec "
            "(the first row must be a header naming the columns)"
        )
    identifier = None
    if spec.identifier is not None:
        col = found[spec.identifier.name]
        assert col is not None
        identifier = (spec.identifier.name, identifier_sql(quote(col), source.columns[col]))
    plans = []
    for c in stored:
        col = found[c.name]
        assert col is not None
        plans.append(column_plan(c, col, source.columns[col]))
    return identifier, plans


class _BadRow(Exception):
    """The fast path saw a row that cannot be stored."""


@dataclass
class _Tally:
    rows: int = 0
    blank: int = 0
    nulls: dict[str, int] = field(default_factory=dict)
    max_rows: int = 0  # the largest per-person row count seen (personal datasets)


def _stored_batches(
    stream: Iterator[pa.RecordBatch],
    query: ScanQuery,
    schema: pa.Schema,
    personal: bool,
    tally: _Tally,
    opened: Source,
) -> Iterator[pa.RecordBatch]:
    """The stored part of each result batch; raises _BadRow on a flagged row."""
    while True:
        try:
            batch = next(stream)
        except StopIteration:
            break
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            # Engine errors arrive through the Arrow stream (e.g. a ragged CSV row far into
            # the file); their text quotes the offending line, so only numbers are kept.
            raise source_read_error(exc, opened.file_format) from None
        if pc.any(batch.column(query.stored)).as_py():
            raise _BadRow
        columns = batch.columns[: query.stored]
        tally.rows += batch.num_rows
        if personal:
            pids = columns[0]
            if pids.null_count:  # blank identifiers: dropped, counted
                tally.blank += pids.null_count
                keep = pc.is_valid(pids)
                columns = [c.filter(keep) for c in columns]
            columns[0] = fixed_pids(columns[0])
            most = pc.max(batch.column(ROWS_COLUMN)).as_py()
            tally.max_rows = max(tally.max_rows, most or 0)
        for name, column in zip(schema.names, columns, strict=True):
            tally.nulls[name] = tally.nulls.get(name, 0) + column.null_count
        yield pa.RecordBatch.from_arrays(columns, schema=schema)
    # Before the last row group is committed: a file DuckDB read short is never stored.
    opened.confirm_rows(tally.rows)
    if tally.rows == 0:
        raise DatasetInvalid("the file has no data rows")
    if tally.rows == tally.blank:
        raise DatasetInvalid("every row has a blank identifier")


def _write_once(
    opened: Source,
    query: ScanQuery,
    personal: bool,
    dest: Path,
    spec_name: str,
    progress: ProgressHook | None,
    batch_rows: int,
) -> tuple[pa.Schema, _Tally]:
    reader = opened.con.sql(query.sql, params=query.params or None).to_arrow_reader(batch_rows)
    fields = list(reader.schema)[: query.stored]
    if personal:
        fields[0] = pa.field(PID, PID_TYPE, nullable=False)
    schema = pa.schema(fields)
    tally = _Tally()
    metadata = {b"cleanroom.dataset": spec_name.encode(), b"cleanroom.pid": b"hmac-sha256 v1"}
    stream = prefetched(reader)
    try:
        batches = _stored_batches(stream, query, schema, personal, tally, opened)
        write_parquet_atomically(
            dest,
            schema,
            batches,
            progress=progress,
            metadata=metadata,
            # Keyed pids are all but unique per row group: a dictionary is built, then dropped.
            plain=(PID,) if personal else (),
        )
    finally:
        stream.close()  # stops the read-ahead thread before the reader goes
        reader.close()  # release the connection's open result (the error path queries again)
    return schema, tally


def _check_file_name(file_name: str) -> str:
    if not file_name or "/" in file_name or "\\" in file_name or file_name.startswith("."):
        raise InvalidRequest("file_name must be a plain file name not starting with a dot")
    return file_name


def ingest_dataset(
    source: Path,
    spec: DatasetSpec,
    *,
    secret_key: str | bytes,
    collaboration_id: str,
    dest_dir: Path,
    file_format: FileFormat | None = None,
    max_bytes: int | None = None,
    file_name: str | None = None,
    progress: ProgressHook | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> IngestResult:
    """Validate ``source`` against ``spec`` and store it as ``dest_dir / file_name``.

    ``file_name`` defaults to ``<spec.name>-<random>.parquet``; an existing file is never
    overwritten. ``progress`` is called with the rows written so far after each row group of
    ``batch_rows`` rows; an exception it raises aborts the ingestion and leaves no file.
    Raises PayloadTooLarge (file over ``max_bytes``, or a gzipped CSV over
    ``limits.max_csv_bytes`` decompressed) or DatasetInvalid (message names the column and
    first bad row, never a value; or the row longer than ``limits.max_row_bytes``).
    """
    source = Path(source).resolve()
    source_bytes = check_size(source, max_bytes)
    fmt = detect_format(source, file_format)
    name = _check_file_name(file_name or f"{spec.name}-{uuid.uuid4().hex[:16]}.parquet")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / name
    if dest.exists():
        raise InvalidRequest(f"a dataset file named {name} already exists")
    key = collaboration_key(secret_key, collaboration_id) if spec.is_personal else None
    opened = open_source(source, fmt, limits, ordered=False)  # any order will do; faster
    try:
        identifier, plans = _plans(spec, opened)
        try:
            materialize = spec.is_personal and opened.records.rows <= MATERIALIZE_MAX_ROWS
            query = ScanQuery.build(identifier, plans, key, materialize=materialize)
            try:
                schema, tally = _write_once(
                    opened, query, spec.is_personal, dest, spec.name, progress, batch_rows
                )
            except _BadRow:
                ordered = opened.reopened(ordered=True)  # row numbers need file order
                try:
                    raise_problems(ordered.con, identifier, plans)
                finally:
                    ordered.con.close()
                raise InternalError(
                    "a row was flagged but no problem was found; this is a bug"
                ) from None
        except duckdb.Error as exc:
            raise source_read_error(exc, fmt) from None
    finally:
        opened.con.close()
    return IngestResult(
        file_name=name,
        path=dest,
        rows=tally.rows - tally.blank,
        dropped_identifiers=tally.blank,
        bytes=dest.stat().st_size,
        source_bytes=source_bytes,
        columns=tuple((f.name, _sql_type(f.type)) for f in schema),
        null_counts=dict(tally.nulls),
        max_rows_per_person=tally.max_rows if spec.is_personal else None,
    )
