"""Opening an uploaded file in a fresh, sandboxed in-memory DuckDB.

Each ingestion gets its own connection from the engine's sandbox
(:func:`cleanroom.engine.sandbox.lock_down`, the same one a run gets): it may read exactly the one
uploaded file, never installs or loads extensions, never spills to disk, has a memory limit
(``ReadLimits``), works in UTC and its configuration is locked. The file is exposed as the view
``src``; every column of a CSV is text (typing is ours, so a bad value is located and named
instead of failing the whole read with engine text). A CSV's records are counted first,
independently of DuckDB (``records``): the rows read must match (``Source.confirm_rows``).

A locked connection keeps its insertion-order mode: the fast write reads in any order
(``ordered=False``); locating the first bad row needs file order (:meth:`Source.reopened`).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from cleanroom.engine import sandbox
from cleanroom.errors import DatasetInvalid, InternalError, PayloadTooLarge
from cleanroom.ingest.identifiers import literal
from cleanroom.ingest.records import RecordCount, count_records, exact_count

FileFormat = Literal["csv", "parquet"]
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_HEADER_CHARS = 1 << 20
_DELIMITERS = (",", ";", "\t", "|")
_QUOTED = re.compile(r'"(?:[^"]|"")*"?')
_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CSV_COUNTS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")
_CSV_LINE_SIZE = "Maximum line size"
# DuckDB's CSV buffer: at least its default, and room for any row the record count lets through
# (it measures characters where it falls back to Python's reader: up to 4 UTF-8 bytes each).
_MIN_CSV_BUFFER = 32 << 20


@dataclass(frozen=True)
class ReadLimits:
    """What one ingestion may use: the longest CSV row, the largest CSV after decompression
    (None: no limit beyond the upload's size) and the DuckDB connection's memory."""

    max_row_bytes: int = 1 << 20
    max_csv_bytes: int | None = None
    memory_limit: str = "4GB"


DEFAULT_LIMITS = ReadLimits()


@dataclass(frozen=True)
class Source:
    """An opened upload: the connection, the format and the file's columns with DuckDB types."""

    con: duckdb.DuckDBPyConnection
    file_format: FileFormat
    columns: dict[str, str]  # name in the file -> DuckDB type
    gzipped: bool  # a gzip-compressed CSV
    # The data rows the file holds: a CSV's counted without DuckDB, a Parquet file's footer.
    records: RecordCount
    path: Path
    limits: ReadLimits
    reader: str  # the table function that reads the file, for reopening it
    ordered: bool  # rows come in file order (preserve_insertion_order)

    def reopened(self, *, ordered: bool) -> Source:
        """The same file on a new sandboxed connection (its settings are locked, so another
        insertion-order mode needs another connection); the caller closes both."""
        con = _connect(self.path, self.reader, self.limits, ordered=ordered)
        return replace(self, con=con, ordered=ordered)

    def confirm_rows(self, read: int) -> None:
        """DatasetInvalid unless ``read`` rows are all the file holds (a CSV recounted
        quote-aware first when the fast count may be off)."""
        expected = self.records.rows
        if read != expected and not self.records.exact:
            expected = exact_count(
                self.path, gzipped=self.gzipped, max_row_bytes=self.limits.max_row_bytes
            ).rows
        if read != expected:
            raise DatasetInvalid(
                f"the file holds {expected} data rows but {read} could be read; nothing was "
                "stored (is the file complete, and every row shorter than "
                f"{self.limits.max_row_bytes} bytes?)"
            )

    def find(self, name: str) -> str | None:
        """The file's column for a declared name: exact, else one case-insensitive match."""
        if name in self.columns:
            return name
        matches = [c for c in self.columns if c.strip().lower() == name.lower()]
        return matches[0] if len(matches) == 1 else None


def check_size(path: Path, max_bytes: int | None) -> int:
    """The file's size in bytes; PayloadTooLarge when it exceeds ``max_bytes``."""
    try:
        size = path.stat().st_size
    except OSError:
        raise DatasetInvalid("the uploaded file cannot be read") from None
    if max_bytes is not None and size > max_bytes:
        raise PayloadTooLarge(f"the file is {size} bytes; the limit is {max_bytes} bytes")
    return size


def detect_format(path: Path, declared: FileFormat | None) -> FileFormat:
    """Parquet when the file starts with the Parquet magic bytes, else CSV; a declared format
    must agree with the bytes (a file's name is not trusted).

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(suffix=".bin") as f:
    ...     _ = f.write(b"a,b\\n1,2\\n"); f.flush()
    ...     detect_format(Path(f.name), None)
    'csv'
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    sniffed: FileFormat = "parquet" if head == _PARQUET_MAGIC else "csv"
    if declared is None:
        return sniffed
    if declared not in ("csv", "parquet"):
        raise DatasetInvalid("the file format must be csv or parquet")
    if declared == "parquet" and sniffed != "parquet":
        raise DatasetInvalid("the file was declared as Parquet but is not a Parquet file")
    if declared == "csv" and sniffed == "parquet":
        raise DatasetInvalid("the file was declared as CSV but is a Parquet file")
    return declared


def table_connection(
    name: str, table: pa.Table, memory_limit: str = ReadLimits.memory_limit
) -> duckdb.DuckDBPyConnection:
    """A sandboxed in-memory DuckDB that can read ``table`` (as ``name``) and no file."""
    sandbox.check_ready()
    con = sandbox.connect()
    try:
        con.register(name, table)
        sandbox.lock_down(con, memory=memory_limit)
    except BaseException:
        con.close()
        raise
    return con


def _connect(
    path: Path, reader: str, limits: ReadLimits, *, ordered: bool
) -> duckdb.DuckDBPyConnection:
    """A sandboxed connection that can read ``path`` and nothing else, with ``reader`` (a table
    function over ``path``) as the view ``src``."""
    sandbox.check_ready()
    con = sandbox.connect()
    try:
        con.execute(f"CREATE VIEW src AS SELECT * FROM {reader}")
        sandbox.lock_down(
            con, files=[path], memory=limits.memory_limit, preserve_insertion_order=ordered
        )
    except BaseException:
        con.close()
        raise
    return con


def check_ordered(con: duckdb.DuckDBPyConnection) -> None:
    """InternalError unless ``con`` returns rows in file order (a row number depends on it)."""
    (ordered,) = con.sql("SELECT current_setting('preserve_insertion_order')").fetchall()[0]
    if not ordered:
        raise InternalError("rows were located on a connection that reads in any order")


def _csv_header(path: Path, gzipped: bool) -> tuple[list[str], str]:
    """The header row and the delimiter (the most frequent candidate in the header line)."""
    try:
        with (
            gzip.open(path, "rb") if gzipped else path.open("rb") as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
        ):
            first = text.readline(_MAX_HEADER_CHARS)
    except (UnicodeDecodeError, OSError, EOFError):
        raise DatasetInvalid("the CSV file is not valid UTF-8 text") from None
    if not first.strip():
        raise DatasetInvalid("the CSV file has no header row")
    if len(first) >= _MAX_HEADER_CHARS:
        raise DatasetInvalid("the CSV header row is too long (is this a CSV file?)")
    # Counted outside quotes: a quoted name may hold any candidate ("a;b",c,d is comma-separated).
    bare = _QUOTED.sub("", first)
    delimiter = max(_DELIMITERS, key=bare.count) if any(d in bare for d in _DELIMITERS) else ","
    header = next(csv.reader([first], delimiter=delimiter))
    names = [h.strip() for h in header]
    if any(not n for n in names):
        raise DatasetInvalid("the CSV header has an empty column name")
    _refuse_duplicates(names, "the CSV header")
    return names, delimiter


def _refuse_duplicates(names: list[str], where: str) -> None:
    """DatasetInvalid naming a column that appears twice (case-insensitively): which one a
    declared name meant would be a guess (DuckDB renames the second of a Parquet file's)."""
    seen: set[str] = set()
    for n in names:
        if n.strip().lower() in seen:
            raise DatasetInvalid(f"column '{n}' appears more than once in {where}")
        seen.add(n.strip().lower())


def _parquet_names(path: Path) -> list[str]:
    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError):
        raise DatasetInvalid("the file could not be read as Parquet (is it complete?)") from None


def open_source(
    path: Path,
    file_format: FileFormat,
    limits: ReadLimits = DEFAULT_LIMITS,
    *,
    ordered: bool = True,
) -> Source:
    """Open ``path`` as the view ``src`` of a new sandboxed connection; ``ordered=False`` lets
    DuckDB return rows in any order (faster for a full read)."""
    gzipped = False
    records = None
    if file_format == "csv":
        with path.open("rb") as fh:
            gzipped = fh.read(2) == _GZIP_MAGIC
        names, delimiter = _csv_header(path, gzipped)
        records = count_records(
            path,
            gzipped=gzipped,
            max_row_bytes=limits.max_row_bytes,
            max_bytes=limits.max_csv_bytes,
        )
        columns = ", ".join(f"{literal(n)}: 'VARCHAR'" for n in names)
        buffer = max(_MIN_CSV_BUFFER, 8 * limits.max_row_bytes)
        reader = (
            f"read_csv({literal(str(path))}, header = true, auto_detect = false, "
            f"columns = {{{columns}}}, delim = {literal(delimiter)}, quote = '\"', "
            f"escape = '\"', strict_mode = true, null_padding = false, "
            f"max_line_size = {limits.max_row_bytes}, buffer_size = {buffer}, "
            f"compression = {literal('gzip' if gzipped else 'none')})"
        )
    else:
        _refuse_duplicates(_parquet_names(path), "the Parquet file")
        reader = f"read_parquet({literal(str(path))})"
    try:
        con = _connect(path, reader, limits, ordered=ordered)
    except duckdb.Error as exc:
        raise read_error(exc, file_format) from None
    try:
        described = con.sql("DESCRIBE SELECT * FROM src").fetchall()
        if records is None:  # Parquet: the footer's count
            (count,) = con.sql("SELECT count(*) FROM src").fetchall()[0]
            records = RecordCount(int(count), path.stat().st_size, exact=True)
    except duckdb.Error as exc:
        con.close()
        raise read_error(exc, file_format) from None
    except BaseException:
        con.close()
        raise
    columns_found = {str(r[0]): str(r[1]) for r in described}
    return Source(con, file_format, columns_found, gzipped, records, path, limits, reader, ordered)


def read_error(exc: Exception, file_format: FileFormat) -> DatasetInvalid:
    """A person-readable error for a file DuckDB could not read; never the engine's text,
    which may quote data (only line numbers and column counts are carried over)."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        return DatasetInvalid("the file is too large to ingest with the memory available")
    if file_format == "parquet":
        return DatasetInvalid("the file could not be read as Parquet (is it complete?)")
    text = str(exc)
    if "unicode" in text.lower() or "utf-8" in text.lower():
        return DatasetInvalid("the CSV file is not valid UTF-8 text")
    line = _CSV_LINE.search(text)
    counts = _CSV_COUNTS.search(text)
    where = f" at line {line.group(1)} of the file" if line else ""
    if _CSV_LINE_SIZE in text:
        return DatasetInvalid(f"the CSV file has a row longer than this server accepts{where}")
    if counts:
        return DatasetInvalid(
            f"the CSV file has a row with {counts.group(2)} fields{where}; the header has "
            f"{counts.group(1)}"
        )
    return DatasetInvalid(
        f"the file could not be read as CSV{where} (check quoting and that every row has as "
        "many fields as the header)"
    )
