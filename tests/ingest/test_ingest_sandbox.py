"""Ingestion's DuckDB connections are the engine's sandbox: SQL sent straight to them (as if a
bug let it through) reads the uploaded file and nothing else, and no setting can change."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleanroom.errors import InternalError
from cleanroom.ingest.source import open_source, table_connection
from cleanroom.ingest.validate import first_true_rows
from tests.engine.test_duckdb_sandbox import file_escapes, outside_files, run_raw


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    return outside_files(tmp_path)


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    """The upload directory: the file being ingested and, beside it, another upload."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "mine.csv").write_text("brand,amount\nacme,3\nzeta,4\n", encoding="utf-8")
    (folder / "theirs.csv").write_text("secret\nother-upload-value\n", encoding="utf-8")
    return folder


def escapes(outside: Path, uploads: Path) -> list[str]:
    """The engine sandbox's escapes, plus reading the upload next to this one and the
    settings ingestion itself depends on."""
    neighbour = uploads / "theirs.csv"
    return [
        *file_escapes(outside, uploads),
        f"SELECT * FROM read_csv('{neighbour}')",
        f"SELECT * FROM '{neighbour}'",
        f"COPY (SELECT * FROM src) TO '{uploads}/copy.csv'",
        "SET preserve_insertion_order = false",
        "SET temp_directory = '/tmp'",
        "SET allowed_paths = ['/etc/passwd']",
    ]


def test_an_upload_connection_refuses_what_the_engine_refuses(uploads: Path, outside: Path) -> None:
    parquet = uploads / "m.parquet"
    pq.write_table(pa.table({"brand": ["acme", "zeta"], "amount": [3, 4]}), parquet)
    sources = [open_source(uploads / "mine.csv", "csv"), open_source(parquet, "parquet")]
    for opened in sources:
        try:
            for sql in escapes(outside, uploads):
                with pytest.raises(duckdb.Error):
                    run_raw(opened.con, sql)
            assert opened.con.sql("SELECT count(*) FROM src").fetchall() == [(2,)]
        finally:
            opened.con.close()
    assert not (outside / "stolen.csv").exists()
    assert not (uploads / "copy.csv").exists()


def test_a_suppression_list_connection_reads_its_table_and_no_file(
    uploads: Path, outside: Path
) -> None:
    con = table_connection("src", pa.table({"identifier": ["a", "b"]}))
    try:
        for sql in escapes(outside, uploads):
            with pytest.raises(duckdb.Error):
                run_raw(con, sql)
        assert con.sql("SELECT count(*) FROM src").fetchall() == [(2,)]
    finally:
        con.close()


def test_rows_are_located_only_on_a_connection_in_file_order(uploads: Path) -> None:
    unordered = open_source(uploads / "mine.csv", "csv", ordered=False)
    try:
        with pytest.raises(InternalError):
            first_true_rows(unordered.con, ["brand = 'zeta'"])
        ordered = unordered.reopened(ordered=True)
        try:
            assert first_true_rows(ordered.con, ["brand = 'zeta'"]) == [2]
        finally:
            ordered.con.close()
    finally:
        unordered.con.close()
