"""Writing a Parquet file so that it either exists complete or not at all.

Row groups go to ``.tmp-<uuid>.parquet`` beside the destination; when the last one is written
the file is fsynced, renamed over the final name with ``os.replace`` and the directory fsynced.
Any exception on the way (a bad batch, a full disk, a failing ``progress`` callback, Ctrl-C)
removes the temporary file, so nothing half-written ever remains under the data root.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cleanroom.scratch import held

ProgressHook = Callable[[int], None]
"""Called with the number of rows written so far after each row group (progress bars; tests
raise from it to simulate a crash in the middle of a write)."""


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parquet_atomically(
    dest: Path,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    *,
    progress: ProgressHook | None = None,
    metadata: dict[bytes, bytes] | None = None,
    plain: Collection[str] = (),
) -> int:
    """Write ``batches`` (each one row group) to ``dest``; returns the rows written.

    Columns named in ``plain`` are written without dictionary encoding (high-cardinality
    columns, where building a dictionary only to discard it costs time).

    >>> import tempfile
    >>> schema = pa.schema([("x", pa.int64())])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     dest = Path(d) / "t.parquet"
    ...     batch = pa.record_batch([[1, 2]], schema=schema)
    ...     rows = write_parquet_atomically(dest, schema, [batch])
    ...     rows, pq.read_table(dest).num_rows, sorted(p.name for p in Path(d).iterdir())
    (2, 2, ['t.parquet'])
    """
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; dataset files are immutable")
    tmp = dest.parent / f".tmp-{uuid.uuid4().hex}.parquet"
    rows = 0
    # pyarrow accepts a list of the columns to dictionary-encode; its stubs say bool only.
    dictionary: Any = [n for n in schema.names if n not in plain] if plain else True
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with held(tmp):  # a crash leaves it unheld: the next sweep removes it
            writer = pq.ParquetWriter(
                str(tmp),
                schema.with_metadata(metadata) if metadata else schema,
                compression="zstd",
                use_dictionary=dictionary,
            )
            try:
                for batch in batches:
                    writer.write_batch(batch)
                    rows += batch.num_rows
                    if progress is not None:
                        progress(rows)
            finally:
                writer.close()
            _fsync(tmp)
            os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(dest.parent)
    return rows
