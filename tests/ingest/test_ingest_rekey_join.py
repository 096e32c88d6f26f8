"""Re-keying once per distinct digest: both query shapes, exact rows per person, the zero-copy
pid conversion and the read-ahead thread."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleanroom.errors import DatasetInvalid
from cleanroom.ingest import PID_TYPE, IngestResult, ingest_dataset
from cleanroom.ingest.prefetch import prefetched
from cleanroom.ingest.scan_query import fixed_pids
from cleanroom.specs import DatasetSpec
from tests.ingest.conftest import COLLAB, SECRET, row
from tests.ingest.test_ingest_dataset import expected_pid

WriteCsv = Callable[..., Path]


@pytest.fixture(params=["materialized", "streamed"])
def shape(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the validated rows held in memory, then with the second-scan shape."""
    if request.param == "streamed":
        monkeypatch.setattr("cleanroom.ingest.dataset.MATERIALIZE_MAX_ROWS", 0)
    return str(request.param)


def ingest(path: Path, spec: DatasetSpec, dest: Path, **kw: Any) -> IngestResult:
    args: dict[str, Any] = {"secret_key": SECRET, "collaboration_id": COLLAB, "dest_dir": dest}
    args.update(kw)
    return ingest_dataset(path, spec, **args)


def test_max_rows_per_person_is_exact(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path, shape: str
) -> None:
    raw = hashlib.sha256(b"a@x.com").digest()
    # a@x.com five times in four spellings (one digest), b@x.com twice, c@x.com once, blanks.
    spellings = [raw.hex(), raw.hex().upper(), f" {raw.hex()} ", base64.b64encode(raw).decode()]
    rows = [row("a@x.com", email_sha256=s) for s in spellings] + [row("a@x.com")]
    rows += [row("b@x.com"), row("c@x.com"), row("b@x.com")]
    rows += [row("z@x.com", email_sha256="")] * 7  # blank: dropped, never a person
    result = ingest(write_csv(rows), spec, dest, batch_rows=3)
    assert (result.rows, result.dropped_identifiers) == (8, 7)
    assert result.max_rows_per_person == 5
    assert result.to_dict()["max_rows_per_person"] == 5
    stored = Counter(pq.read_table(result.path).column("pid").to_pylist())
    assert stored == {expected_pid("a@x.com"): 5, expected_pid("b@x.com"): 2,
                      expected_pid("c@x.com"): 1}  # fmt: skip
    assert max(stored.values()) == result.max_rows_per_person


def test_one_row_per_person_many_batches(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path, shape: str
) -> None:
    result = ingest(write_csv([row(f"u{i}@x.com") for i in range(2500)]), spec, dest,
                    batch_rows=1000)  # fmt: skip
    assert (result.rows, result.max_rows_per_person) == (2500, 1)
    pids = pq.read_table(result.path).column("pid")
    assert pids.type == PID_TYPE
    assert set(pids.to_pylist()) == {expected_pid(f"u{i}@x.com") for i in range(2500)}


def test_reference_dataset_has_no_rows_per_person(write_csv: WriteCsv, dest: Path) -> None:
    spec = DatasetSpec.from_dict(
        {"name": "catalog", "kind": "reference", "columns": {"sku": {"role": "dimension"}}}
    )
    result = ingest(write_csv([["s1"], ["s1"]], header=["sku"]), spec, dest)
    assert result.max_rows_per_person is None
    assert result.to_dict()["max_rows_per_person"] is None


def test_bad_rows_are_still_named_in_both_shapes(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path, shape: str
) -> None:
    rows = [row(f"u{i % 3}@x.com") for i in range(20)]
    rows[11] = row("x", email_sha256="jane@example.com")
    rows[14] = row("u1@x.com", amount="twelve")
    with pytest.raises(DatasetInvalid) as info:
        ingest(write_csv(rows), spec, dest)
    assert "raw email addresses (first at row 12)" in info.value.detail
    assert "column 'amount_cents': the value at row 15 is not a number" in info.value.detail
    assert list(dest.iterdir()) == []


def test_fixed_pids_reuses_the_buffer_and_falls_back_to_a_cast() -> None:
    values = [bytes([i]) * 32 for i in range(4)]
    blobs = pa.array(values, type=pa.binary())
    for array in (blobs, blobs.slice(1, 2)):
        fixed = fixed_pids(array)
        assert fixed.type == PID_TYPE
        assert fixed.to_pylist() == array.to_pylist()
    with_null = pa.array([values[0], None], type=pa.binary())
    assert fixed_pids(with_null).to_pylist() == [values[0], None]
    with pytest.raises(pa.ArrowInvalid):
        fixed_pids(pa.array([b"short"], type=pa.binary()))


def test_prefetched_passes_errors_and_stops_early() -> None:
    table = pa.table({"x": list(range(10))})

    def failing() -> Any:
        yield from table.to_batches(max_chunksize=3)[:2]
        raise OSError("disk")

    reader = pa.RecordBatchReader.from_batches(table.schema, failing())
    with pytest.raises(OSError, match="disk"):
        list(prefetched(reader))
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))
    stream = prefetched(reader)
    assert next(stream).num_rows == 1
    stream.close()  # the thread is stopped and joined: the reader can close safely
    reader.close()


def test_the_row_count_that_picks_the_shape_is_exact(write_csv: WriteCsv, tmp_path: Path) -> None:
    from cleanroom.ingest.source import open_source

    path = write_csv([row(f"u{i}@x.com") for i in range(300)])
    opened = open_source(path, "csv")
    try:
        assert opened.records.rows == 300
    finally:
        opened.con.close()
    pq.write_table(pa.table({"x": list(range(7))}), tmp_path / "t.parquet")
    opened = open_source(tmp_path / "t.parquet", "parquet")
    try:
        assert opened.records.rows == 7
    finally:
        opened.con.close()
