"""Counting a CSV file's records without DuckDB, so that a file is never accepted short.

DuckDB's CSV reader drops a final row longer than its buffer without an error (found with a
48 MB last row). So before DuckDB reads a CSV, one streaming pass over its bytes (decompressed
when gzipped) counts the records, measures each one and counts the bytes; afterwards the rows
DuckDB produced must equal that count (``dataset``), and a row longer than ``max_row_bytes`` is
refused here, by number, before DuckDB sees it.

The pass is vectorized (numpy, 1 MiB chunks): a record ends at CR or LF outside quotes, and
"outside quotes" is the parity of the double quotes before it, which is exact for RFC 4180
files (a quote opens a field or is doubled inside one). A file with no quote at all is counted
exactly by that rule. A quote in the middle of an unquoted field (``5" screen``), which DuckDB
accepts, breaks the parity; so where quotes occur and the parity says a row is too long, or
its count disagrees with DuckDB's, the file is counted again with Python's ``csv`` reader
(quote-aware, about 1 us a row), whose count is final. Blank lines are not records (DuckDB
skips them too); the header is record 1.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cleanroom.errors import DatasetInvalid, PayloadTooLarge

_CHUNK = 1 << 20
_QUOTE, _LF, _CR = 0x22, 0x0A, 0x0D  # byte values


@dataclass(frozen=True)
class RecordCount:
    """A CSV's data rows (header and blank lines excluded) and its (decompressed) size."""

    rows: int
    bytes: int
    exact: bool  # False: counted by quote parity in a file with quotes (see module doc)


def _open(path: Path, gzipped: bool) -> gzip.GzipFile | io.BufferedReader:
    return gzip.GzipFile(path, "rb") if gzipped else path.open("rb")


def _too_long(record: int, max_row_bytes: int) -> DatasetInvalid:
    if record == 1:
        return DatasetInvalid(f"the CSV header row is longer than {max_row_bytes} bytes")
    return DatasetInvalid(
        f"row {record - 1} of the file (line {record} counting the header) is longer than "
        f"{max_row_bytes} bytes, the longest row this server accepts"
    )


def _too_big(max_bytes: int, gzipped: bool) -> PayloadTooLarge:
    what = "decompressed file" if gzipped else "file"
    return PayloadTooLarge(f"the {what} is larger than {max_bytes} bytes, the limit")


def count_records(
    path: Path, *, gzipped: bool, max_row_bytes: int, max_bytes: int | None = None
) -> RecordCount:
    """Count the data rows of the CSV at ``path``; DatasetInvalid naming the first row longer
    than ``max_row_bytes``, PayloadTooLarge past ``max_bytes`` (decompressed) bytes."""
    try:
        with _open(path, gzipped) as stream:
            return _parity_count(stream, path, gzipped, max_row_bytes, max_bytes)
    except (OSError, EOFError, gzip.BadGzipFile):
        raise DatasetInvalid("the file could not be read (is the gzip file complete?)") from None


def _parity_count(
    stream: io.BufferedIOBase, path: Path, gzipped: bool, max_row_bytes: int, max_bytes: int | None
) -> RecordCount:
    offset = 0  # bytes read so far
    start = 0  # offset of the current record's first byte
    records = 0  # complete, non-empty records so far
    inside = False  # inside a quoted field at the chunk boundary
    quotes = False
    while chunk := stream.read(_CHUNK):
        data = np.frombuffer(chunk, np.uint8)
        ends = (data == _LF) | (data == _CR)
        if b'"' in chunk:
            quotes = True
            parity = np.cumsum(data == _QUOTE, dtype=np.int32) & 1
            if inside:
                parity ^= 1
            inside = bool(parity[-1])
            ends &= parity == 0
        positions = np.flatnonzero(ends).astype(np.int64) + offset
        if positions.size:
            lengths = np.diff(positions, prepend=start - 1) - 1
            nonempty = lengths > 0
            over = np.flatnonzero(lengths > max_row_bytes)
            if over.size:
                record = records + int(np.count_nonzero(nonempty[: over[0]])) + 1
                return _long_row(path, gzipped, record, quotes, max_row_bytes, max_bytes)
            records += int(np.count_nonzero(nonempty))
            start = int(positions[-1]) + 1
        offset += len(chunk)
        if offset - start > max_row_bytes:
            return _long_row(path, gzipped, records + 1, quotes, max_row_bytes, max_bytes)
        if max_bytes is not None and offset > max_bytes:
            raise _too_big(max_bytes, gzipped)
    if offset > start:
        records += 1  # the last record has no line break
    return RecordCount(max(records - 1, 0), offset, exact=not quotes)


def _long_row(
    path: Path,
    gzipped: bool,
    record: int,
    quotes: bool,
    max_row_bytes: int,
    max_bytes: int | None,
) -> RecordCount:
    if not quotes:
        raise _too_long(record, max_row_bytes)
    return exact_count(path, gzipped=gzipped, max_row_bytes=max_row_bytes, max_bytes=max_bytes)


def exact_count(
    path: Path, *, gzipped: bool, max_row_bytes: int, max_bytes: int | None = None
) -> RecordCount:
    """The quote-aware count (Python's ``csv``; a row's length is its characters)."""
    # Process-wide and only ever raised, so concurrent ingestions cannot undo each other.
    csv.field_size_limit(max(csv.field_size_limit(), max_row_bytes + 1))
    records = 0
    try:
        with (
            _open(path, gzipped) as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
        ):
            for fields in csv.reader(text, strict=False):
                if not fields:
                    continue
                records += 1
                if sum(map(len, fields)) + len(fields) - 1 > max_row_bytes:
                    raise _too_long(records, max_row_bytes)
                if max_bytes is not None and raw.tell() > max_bytes:
                    raise _too_big(max_bytes, gzipped)
            size = raw.tell()
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _too_long(records + 1, max_row_bytes) from None
        raise DatasetInvalid(
            "the file could not be read as CSV (check quoting and that it is UTF-8 text)"
        ) from None
    except (UnicodeDecodeError, OSError, EOFError):
        raise DatasetInvalid("the CSV file is not valid UTF-8 text") from None
    return RecordCount(max(records - 1, 0), size, exact=True)
