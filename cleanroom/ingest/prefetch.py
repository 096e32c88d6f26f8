"""Reading an Arrow stream one batch ahead in a thread.

An ingestion alternates between pulling a batch out of DuckDB and writing it to Parquet
(pyarrow's encoder and zstd). Both release the GIL, so reading the next batch while the current
one is written overlaps the two on a second core instead of leaving DuckDB idle during writes.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator

import pyarrow as pa

_POLL_S = 0.05


def prefetched(
    reader: pa.RecordBatchReader, depth: int = 1
) -> Generator[pa.RecordBatch, None, None]:
    """The batches of ``reader``, read up to ``depth`` ahead by a helper thread.

    An exception raised while reading is re-raised here, in the consumer. Closing the iterator
    (or abandoning it on an error) stops the thread and waits for it, so the reader is free to
    close afterwards.

    >>> table = pa.table({"x": list(range(5))})
    >>> [b.num_rows for b in prefetched(pa.RecordBatchReader.from_batches(
    ...     table.schema, table.to_batches(max_chunksize=2)))]
    [2, 2, 1]
    """
    items: queue.Queue[tuple[pa.RecordBatch | None, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def pump() -> None:
        error: BaseException | None = None
        try:
            while not stop.is_set():
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                items.put((batch, None))
        except Exception as exc:  # noqa: BLE001 - re-raised in the consumer's thread
            error = exc
        finally:
            items.put((None, error))  # always ends the stream: the consumer never hangs

    thread = threading.Thread(target=pump, name="cleanroom-ingest-read", daemon=True)
    thread.start()
    try:
        while True:
            batch, error = items.get()
            if error is not None:
                raise error
            if batch is None:
                return
            yield batch
    finally:
        stop.set()
        while thread.is_alive():  # unblock a pending put, then let the thread finish
            with contextlib.suppress(queue.Empty):
                items.get(timeout=_POLL_S)
        thread.join()
