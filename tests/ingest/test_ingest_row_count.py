"""A CSV is never stored short: rows are counted without DuckDB, over-long rows are named, and a
gzipped file's decompressed size and the ingest connection's memory are bounded."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleanroom.errors import DatasetInvalid, PayloadTooLarge
from cleanroom.ingest import ReadLimits
from cleanroom.ingest.records import RecordCount, count_records, exact_count
from cleanroom.ingest.source import open_source
from cleanroom.specs import DatasetSpec
from tests.ingest.conftest import row
from tests.ingest.test_ingest_dataset import ingest

WriteCsv = Callable[..., Path]
SMALL = ReadLimits(max_row_bytes=1000)


def test_an_over_long_last_row_is_refused_by_number_not_dropped(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    # DuckDB drops a last row longer than its buffer without an error (48 MB at the defaults).
    path = write_csv([row("a@x.com"), row("b@x.com"), row("c@x.com", brand="z" * 50_000)])
    with pytest.raises(DatasetInvalid, match=r"row 3 of the file .* longer than 1000 bytes"):
        ingest(path, spec, dest, limits=SMALL)
    assert list(dest.iterdir()) == []


def test_an_over_long_row_in_a_gzipped_file_with_quotes_is_named(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path, tmp_path: Path
) -> None:
    rows = [row("a@x.com", brand='quoted, "brand"'), row("b@x.com", brand="z" * 5_000)]
    plain = write_csv([*rows, row("c@x.com")])
    packed = tmp_path / "up.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(DatasetInvalid, match=r"row 2 of the file"):
        ingest(packed, spec, dest, limits=SMALL)
    assert list(dest.iterdir()) == []


def test_rows_at_the_limit_and_a_stray_quote_are_accepted_with_every_row(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    # A quote inside an unquoted field (DuckDB accepts it) fools the fast count: recounted.
    rows = [row("a@x.com", brand='5" screen'), row("b@x.com"), row("c@x.com")]
    path = write_csv(rows)
    width = max(len(line) for line in path.read_text().splitlines())
    assert count_records(path, gzipped=False, max_row_bytes=width).exact is False
    result = ingest(path, spec, dest, limits=ReadLimits(max_row_bytes=width))
    assert result.rows == 3


def test_a_file_read_short_is_refused(spec: DatasetSpec, write_csv: WriteCsv) -> None:
    path = write_csv([row("a@x.com"), row("b@x.com")])
    opened = open_source(path.resolve(), "csv")
    try:
        assert opened.records.rows == 2
        opened.confirm_rows(2)
        with pytest.raises(DatasetInvalid, match="holds 3 data rows but 2 could be read"):
            dataclasses.replace(opened, records=RecordCount(3, 0, exact=True)).confirm_rows(2)
    finally:
        opened.con.close()


def test_a_gzip_that_expands_past_the_limit_is_too_large(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path, tmp_path: Path
) -> None:
    plain = write_csv([row(f"{i}@x.com") for i in range(2_000)])
    packed = tmp_path / "bomb.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    limits = ReadLimits(max_csv_bytes=plain.stat().st_size - 1)
    with pytest.raises(PayloadTooLarge, match="decompressed file is larger than"):
        ingest(packed, spec, dest, limits=limits)
    assert ingest(packed, spec, dest, limits=ReadLimits()).rows == 2_000


def test_the_ingest_connection_is_held_to_its_memory_limit(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    path = write_csv([row(f"{i}@x.com") for i in range(20_000)])
    with pytest.raises(DatasetInvalid, match="too large to ingest with the memory available"):
        ingest(path, spec, dest, limits=ReadLimits(memory_limit="1MB"))
    assert list(dest.iterdir()) == []


_FIELD = st.text(alphabet='ab,"\n\r ', max_size=6)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(_FIELD, min_size=1, max_size=3), min_size=1, max_size=8))
def test_the_fast_count_agrees_with_a_csv_reader(rows: list[list[str]]) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    text = buffer.getvalue()
    path = Path(f"/tmp/cleanroom-count-{abs(hash(text))}.csv")
    path.write_text(text, newline="", encoding="utf-8")
    try:
        expected = sum(1 for r in csv.reader(io.StringIO(text, newline="")) if r) - 1
        fast = count_records(path, gzipped=False, max_row_bytes=1 << 20)
        assert fast.rows == max(expected, 0)
        assert exact_count(path, gzipped=False, max_row_bytes=1 << 20).rows == max(expected, 0)
    finally:
        path.unlink()
