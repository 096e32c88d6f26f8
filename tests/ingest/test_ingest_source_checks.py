"""What opening an upload refuses or gets right before any row is read."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleanroom.errors import DatasetInvalid
from cleanroom.ingest.source import open_source


def test_the_delimiter_is_not_counted_inside_a_quoted_header_name(tmp_path: Path) -> None:
    path = tmp_path / "up.csv"
    path.write_text('"brand;region;store;aisle",amount,ts\n"a;b;c;d",3,2024-01-01\n')
    opened = open_source(path, "csv")
    try:
        assert list(opened.columns) == ["brand;region;store;aisle", "amount", "ts"]
        assert opened.con.sql("SELECT amount FROM src").fetchall() == [("3",)]
    finally:
        opened.con.close()


@pytest.mark.parametrize("names", [["amount", "amount"], ["brand", "amount", "Brand"]])
def test_a_parquet_file_with_a_column_twice_is_refused(tmp_path: Path, names: list[str]) -> None:
    path = tmp_path / "up.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1, 2])] * len(names), names=names), path)
    with pytest.raises(DatasetInvalid, match="appears more than once in the Parquet file"):
        open_source(path, "parquet")
