"""ingest_dataset end to end: real DuckDB, real files, real Parquet output."""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleanroom.errors import DatasetInvalid, PayloadTooLarge
from cleanroom.ingest import IngestResult, collaboration_key, ingest_dataset, pid_for_digest
from cleanroom.specs import DatasetSpec
from tests.ingest.conftest import COLLAB, HEADER, SECRET, SPEC, digest, row

WriteCsv = Callable[..., Path]


def ingest(path: Path, spec: DatasetSpec, dest: Path, **kw: Any) -> IngestResult:
    args: dict[str, Any] = {"secret_key": SECRET, "collaboration_id": COLLAB, "dest_dir": dest}
    args.update(kw)
    return ingest_dataset(path, spec, **args)


def expected_pid(email: str, collab: str = COLLAB) -> bytes:
    return pid_for_digest(
        collaboration_key(SECRET, collab), hashlib.sha256(email.encode()).digest()
    )


def test_csv_happy_path_types_minimization_and_pids(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    path = write_csv(
        [
            row("a@x.com", amount="1250", ts="2024-05-01"),
            row("b@x.com", amount="-3", ts="2024-05-01T10:00:00+02:00", consent_measurement="No"),
            row("a@x.com", amount="99999999", ts="2024-05-02 23:59:59.5", channel="instore"),
            row("c@x.com", amount="", brand=" ", consent_measurement=""),
        ]
    )
    result = ingest(path, spec, dest)
    assert result.rows == 4
    assert result.dropped_identifiers == 0
    assert result.path.parent == dest
    assert result.path.name == result.file_name
    assert [p.name for p in dest.iterdir()] == [result.file_name]
    assert dict(result.columns) == {
        "pid": "BLOB(32)",
        "txn_ts": "TIMESTAMP",
        "brand": "VARCHAR",
        "channel": "VARCHAR",
        "amount_cents": "BIGINT",
        "consent_measurement": "BOOLEAN",
    }
    assert result.null_counts["amount_cents"] == 1
    assert result.null_counts["brand"] == 1
    pf = pq.ParquetFile(result.path)
    assert pf.schema.column(0).physical_type == "FIXED_LEN_BYTE_ARRAY"
    assert pf.schema.column(0).length == 32
    table = pf.read()
    assert table.schema.field("pid").type == pa.binary(32)
    assert "postal_code" not in table.column_names
    assert "notes" not in table.column_names
    assert "email_sha256" not in table.column_names
    rows = sorted(table.to_pylist(), key=lambda r: (r["txn_ts"], r["amount_cents"] or 0))
    by_amount = {r["amount_cents"]: r for r in rows}
    assert by_amount[1250]["pid"] == expected_pid("a@x.com")
    assert by_amount[99999999]["pid"] == expected_pid("a@x.com")  # out of bounds: kept
    assert by_amount[-3]["pid"] == expected_pid("b@x.com")
    assert str(by_amount[-3]["txn_ts"]) == "2024-05-01 08:00:00"  # offset converted to UTC
    assert str(by_amount[1250]["txn_ts"]) == "2024-05-01 00:00:00"
    assert by_amount[-3]["consent_measurement"] is False
    assert by_amount[None]["consent_measurement"] is None
    # The uploaded digests appear nowhere in the stored file.
    raw = result.path.read_bytes()
    for email in ("a@x.com", "b@x.com"):
        assert digest(email).encode() not in raw
        assert hashlib.sha256(email.encode()).digest() not in raw


def test_parquet_source_with_native_types(spec: DatasetSpec, tmp_path: Path, dest: Path) -> None:
    src = tmp_path / "up.parquet"
    con = duckdb.connect()
    a, b = digest("a@x.com"), digest("b@x.com")
    con.execute(
        f"""COPY (SELECT * FROM (VALUES
            ('{a}', TIMESTAMP '2024-01-01 10:00', 'acme', 'online', 12.5, TRUE, 'z', 1),
            ('{b}', TIMESTAMP '2024-01-02 10:00', 'beta', 'instore', 7.0, FALSE, 'z', 2)
        ) t(email_sha256, txn_ts, brand, channel, amount_cents, consent_measurement,
            postal_code, extra))
        TO '{src}' (FORMAT parquet)"""
    )
    con.close()
    result = ingest(src, number_spec(spec), dest)
    table = pq.read_table(result.path)
    assert table.column_names == ["pid", "txn_ts", "brand", "channel", "amount_cents",
                                  "consent_measurement"]  # fmt: skip
    assert dict(result.columns)["amount_cents"] == "DOUBLE"
    assert sorted(table.column("amount_cents").to_pylist()) == [7.0, 12.5]
    assert set(table.column("pid").to_pylist()) == {
        expected_pid("a@x.com"),
        expected_pid("b@x.com"),
    }


def number_spec(spec: DatasetSpec) -> DatasetSpec:
    """``spec`` with its amount declared ``"type": "number"`` (stored as DOUBLE)."""
    data = spec.to_dict()
    data["columns"]["amount_cents"]["type"] = "number"
    return DatasetSpec.from_dict(data)


@pytest.mark.parametrize("amount", ["12.5", "99999999999999999999"])
def test_integer_metric_refuses_a_value_that_is_no_whole_64_bit_number(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path, amount: str
) -> None:
    rows = [row("a@x.com", amount="12")] * 5 + [row("b@x.com", amount=amount)]
    with pytest.raises(DatasetInvalid) as info:
        ingest(write_csv(rows), spec, dest, batch_rows=2)
    assert "column 'amount_cents': the value at row 6 is not a whole number" in info.value.detail
    assert '"type": "number"' in info.value.detail
    assert amount not in info.value.detail
    assert list(dest.iterdir()) == []


def test_number_metric_is_stored_as_double_whatever_its_values(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    """The stored type follows the spec, never the values: all-whole values stay DOUBLE."""
    for amounts, expected in ((["12", "7"], [7.0, 12.0]), (["12", "12.5"], [12.0, 12.5])):
        out = dest / amounts[1]
        out.mkdir()
        rows = [row("a@x.com", amount=amounts[0]), row("b@x.com", amount=amounts[1])]
        result = ingest(write_csv(rows), number_spec(spec), out)
        assert dict(result.columns)["amount_cents"] == "DOUBLE"
        table = pq.read_table(result.path)
        assert table.schema.field("amount_cents").type == pa.float64()
        assert sorted(table.column("amount_cents").to_pylist()) == expected


def test_integer_metric_is_stored_as_bigint_from_a_whole_double_source(
    spec: DatasetSpec, tmp_path: Path, dest: Path
) -> None:
    table = pa.table(
        {
            "email_sha256": [digest("a@x.com"), digest("b@x.com")],
            "txn_ts": ["2024-01-01", "2024-01-02"],
            "brand": ["a", "b"],
            "channel": ["online", "online"],
            "amount_cents": [1.0, 250.0],
            "consent_measurement": [True, False],
        }
    )
    pq.write_table(table, tmp_path / "whole.parquet")
    result = ingest(tmp_path / "whole.parquet", spec, dest)
    stored = pq.read_table(result.path)
    assert stored.schema.field("amount_cents").type == pa.int64()
    assert sorted(stored.column("amount_cents").to_pylist()) == [1, 250]


def test_a_late_fractional_value_is_named_and_nothing_is_written(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    rows = [row(f"u{i}@x.com", amount=str(i)) for i in range(5_000)] + [
        row("z@x.com", amount="0.5")
    ]
    with pytest.raises(DatasetInvalid, match="the value at row 5001 is not a whole number"):
        ingest(write_csv(rows), spec, dest, batch_rows=1_000)
    assert list(dest.iterdir()) == []


def test_blank_identifiers_are_dropped_and_counted(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    rows = [row("a@x.com"), row("b@x.com", email_sha256=""), row("c@x.com", email_sha256="   ")]
    result = ingest(write_csv(rows), spec, dest)
    assert (result.rows, result.dropped_identifiers) == (1, 2)
    assert pq.read_table(result.path).column("pid").to_pylist() == [expected_pid("a@x.com")]


def test_hex_base64_and_case_give_the_same_pid(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    raw = hashlib.sha256(b"a@x.com").digest()
    spellings = [
        raw.hex(),
        raw.hex().upper(),
        f"  {raw.hex()} ",
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
    ]
    result = ingest(write_csv([row("a@x.com", email_sha256=s) for s in spellings]), spec, dest)
    assert set(pq.read_table(result.path).column("pid").to_pylist()) == {expected_pid("a@x.com")}


def test_same_digest_same_pid_within_a_collaboration_not_across(
    spec: DatasetSpec, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = write_csv([row("a@x.com")])
    first = ingest(path, spec, tmp_path / "d1")
    again = ingest(path, spec, tmp_path / "d2")
    other = ingest(path, spec, tmp_path / "d3", collaboration_id="collab-b")

    def pid(result: IngestResult) -> bytes:
        return bytes(pq.read_table(result.path).column("pid").to_pylist()[0])

    assert pid(first) == pid(again) == expected_pid("a@x.com")
    assert pid(other) == expected_pid("a@x.com", "collab-b") != pid(first)


def test_reference_dataset_has_no_pid(write_csv: WriteCsv, dest: Path) -> None:
    spec = DatasetSpec.from_dict(
        {
            "name": "catalog",
            "kind": "reference",
            "columns": {
                "sku": {"role": "dimension"},
                "category_id": {"role": "dimension", "values": [1, 2, 3]},
                "price": {"role": "metric", "type": "number"},
            },
        }
    )
    path = write_csv(
        [["s1", "1", "9.99", "x"], ["s2", "3", "5", "y"]],
        header=["sku", "category_id", "price", "secret"],
    )
    result = ingest(path, spec, dest)
    table = pq.read_table(result.path)
    assert table.column_names == ["sku", "category_id", "price"]
    assert table.schema.field("category_id").type == pa.int64()
    assert table.to_pylist()[0] == {"sku": "s1", "category_id": 1, "price": 9.99}


@pytest.mark.parametrize(
    ("value", "kind"),
    [("jane.doe@example.com", "email addresses"), ("+1 (234) 567-8901", "phone numbers"),
     ("0612345678", "phone numbers")],
)  # fmt: skip
def test_raw_pii_is_refused_with_row_and_nothing_written(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path, value: str, kind: str
) -> None:
    rows = (
        [row(f"u{i}@x.com") for i in range(16)] + [row("x", email_sha256=value)] + [row("y@x.com")]
    )
    with pytest.raises(DatasetInvalid) as info:
        ingest(write_csv(rows), spec, dest)
    message = info.value.detail
    assert f"look like raw {kind}" in message
    assert "first at row 17" in message
    assert "column 'email_sha256'" in message
    assert "cleanroom hash" in message
    assert value not in message
    assert list(dest.iterdir()) == []


def test_non_digest_identifier_names_column_and_row(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    with pytest.raises(DatasetInvalid, match=r"not a SHA-256 digest \(first at row 2\)") as info:
        ingest(write_csv([row("a@x.com"), row("b", email_sha256="abc123-not-a-hash")]), spec, dest)
    assert "abc123" not in info.value.detail
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("amount_cents", "12,50", "is not a number"),
        ("amount_cents", "nan", "is not a whole number"),
        ("amount_cents", "-Infinity", "is not a whole number"),
        ("amount_cents", "1e999", "is not a whole number"),
        ("amount_cents", "0.5", "is not a whole number"),
        ("txn_ts", "yesterday-ish", "is not a date or timestamp"),
        ("consent_measurement", "maybe", "is not a consent flag"),
    ],
)
def test_bad_values_name_column_and_row_never_the_value(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path, column: str, value: str, problem: str
) -> None:
    rows = [row("a@x.com"), row("b@x.com"), row("c@x.com", **{column: value})]
    with pytest.raises(DatasetInvalid) as info:
        ingest(write_csv(rows), spec, dest)
    message = info.value.detail
    assert f"column '{column}': the value at row 3 {problem}" in message
    assert value not in message
    assert list(dest.iterdir()) == []


def test_several_problems_are_all_reported(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    rows = [row("a@x.com", amount="x"), row("b@x.com", ts="never"), row("c@x.com", amount="y")]
    with pytest.raises(DatasetInvalid) as info:
        ingest(write_csv(rows), spec, dest)
    assert "txn_ts': the value at row 2" in info.value.detail
    assert "amount_cents': the value at row 1" in info.value.detail


def test_parquet_nan_is_refused(spec: DatasetSpec, tmp_path: Path, dest: Path) -> None:
    table = pa.table(
        {
            "email_sha256": [digest("a@x.com"), digest("b@x.com")],
            "txn_ts": ["2024-01-01", "2024-01-02"],
            "brand": ["a", "b"],
            "channel": ["online", "online"],
            "amount_cents": [1.0, math.nan],
            "consent_measurement": [True, False],
        }
    )
    pq.write_table(table, tmp_path / "nan.parquet")
    with pytest.raises(DatasetInvalid, match="'amount_cents': the value at row 2 is not a whole"):
        ingest(tmp_path / "nan.parquet", spec, dest)
    with pytest.raises(DatasetInvalid, match="'amount_cents': the value at row 2 is NaN"):
        ingest(tmp_path / "nan.parquet", number_spec(spec), dest)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("value", ["nan", "-Infinity", "1e999"])
def test_number_metric_refuses_values_that_are_not_finite(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path, value: str
) -> None:
    rows = [row("a@x.com"), row("b@x.com", amount=value)]
    with pytest.raises(DatasetInvalid, match="the value at row 2 is NaN or infinite"):
        ingest(write_csv(rows), number_spec(spec), dest)
    assert list(dest.iterdir()) == []


def test_missing_declared_column_is_named(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    header = [h for h in HEADER if h != "txn_ts"]
    rows = [[v for h, v in zip(HEADER, row("a@x.com"), strict=True) if h != "txn_ts"]]
    with pytest.raises(DatasetInvalid, match="no column 'txn_ts'"):
        ingest(write_csv(rows, header=header), spec, dest)


def test_blocked_column_may_be_absent_and_header_case_is_forgiven(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    header = [h.upper() for h in HEADER if h != "postal_code"]
    rows = [[v for h, v in zip(HEADER, row("a@x.com"), strict=True) if h != "postal_code"]]
    result = ingest(write_csv(rows, header=header), spec, dest)
    assert result.rows == 1


def test_ragged_csv_is_refused_with_line_not_content(
    spec: DatasetSpec, tmp_path: Path, dest: Path
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join(row("a@x.com")) + "\nsecret-value,2\n")
    with pytest.raises(DatasetInvalid, match="at line 3") as info:
        ingest(path, spec, dest)
    assert "secret-value" not in info.value.detail


def test_ragged_row_deep_in_the_file_is_refused_without_its_content(
    spec: DatasetSpec, tmp_path: Path, dest: Path
) -> None:
    # Far enough that the error arrives through the Arrow stream, not the first scan.
    path = tmp_path / "late.csv"
    line = ",".join(row("a@x.com")) + "\n"
    path.write_text(",".join(HEADER) + "\n" + line * 150_000 + "secret-value,2\n")
    with pytest.raises(DatasetInvalid, match="2 fields at line 150002") as info:
        ingest(path, spec, dest)
    assert "secret-value" not in info.value.detail
    assert list(dest.iterdir()) == []


def test_empty_file_and_all_blank_identifiers(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    with pytest.raises(DatasetInvalid, match="no data rows"):
        ingest(write_csv([]), spec, dest)
    with pytest.raises(DatasetInvalid, match="blank identifier"):
        ingest(write_csv([row("a", email_sha256="")], name="b.csv"), spec, dest)
    assert list(dest.iterdir()) == []


def test_payload_too_large(spec: DatasetSpec, write_csv: WriteCsv, dest: Path) -> None:
    path = write_csv([row("a@x.com")])
    with pytest.raises(PayloadTooLarge):
        ingest(path, spec, dest, max_bytes=path.stat().st_size - 1)
    assert ingest(path, spec, dest, max_bytes=path.stat().st_size).rows == 1


def test_format_is_sniffed_from_bytes_not_name(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    path = write_csv([row("a@x.com")], name="upload.bin")
    assert ingest(path, spec, dest).rows == 1
    with pytest.raises(DatasetInvalid, match="not a Parquet file"):
        ingest(path, spec, dest, file_format="parquet")


class Crash(Exception):
    pass


def test_failure_mid_write_leaves_no_file(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    path = write_csv([row(f"u{i}@x.com") for i in range(5000)])
    seen: list[int] = []

    def crash_after_first_row_group(rows_written: int) -> None:
        seen.append(rows_written)
        assert any(p.name.startswith(".tmp-") for p in dest.iterdir())  # really mid-write
        raise Crash

    with pytest.raises(Crash):
        ingest(path, spec, dest, progress=crash_after_first_row_group, batch_rows=1000)
    assert seen == [1000]
    assert list(dest.iterdir()) == []


def test_progress_reports_rows_and_file_is_never_overwritten(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    path = write_csv([row(f"u{i}@x.com") for i in range(2500)])
    seen: list[int] = []
    result = ingest(path, spec, dest, progress=seen.append, batch_rows=1000, file_name="t.parquet")
    assert seen[-1] == 2500
    assert result.file_name == "t.parquet"
    assert pq.ParquetFile(result.path).metadata.num_row_groups == len(seen)
    with pytest.raises(Exception, match="already exists"):
        ingest(path, spec, dest, file_name="t.parquet")


def test_source_outside_the_sandbox_is_unreadable(spec: DatasetSpec, write_csv: WriteCsv) -> None:
    from cleanroom.ingest.source import open_source

    path = write_csv([row("a@x.com")])
    opened = open_source(path, "csv")
    try:
        with pytest.raises(duckdb.Error):
            opened.con.sql("SELECT * FROM read_csv('/etc/hostname')").fetchall()
    finally:
        opened.con.close()


def test_spec_constant_matches_api_md_shape() -> None:
    assert DatasetSpec.from_dict(SPEC).identifier is not None


def test_padded_and_mixed_case_values_are_accepted(
    spec: DatasetSpec, write_csv: WriteCsv, dest: Path
) -> None:
    # The fast path and the error path must agree that these are valid (else: a bug report).
    rows = [
        row("a@x.com", amount=" 12 ", ts=" 2024-05-01 ", consent_measurement=" YES "),
        row("b@x.com", amount="+7", ts="2024-05-01T10:00:00Z", consent_measurement="False"),
        row("c@x.com", amount="0", ts="2024-05-01 10:00:00 America/New_York"),
    ]
    result = ingest(write_csv(rows), spec, dest)
    table = pq.read_table(result.path).to_pylist()
    by_amount = {r["amount_cents"]: r for r in table}
    assert by_amount[12]["consent_measurement"] is True
    assert by_amount[7]["consent_measurement"] is False
    assert str(by_amount[0]["txn_ts"]) == "2024-05-01 14:00:00"
    assert str(by_amount[12]["txn_ts"]) == "2024-05-01 00:00:00"


def test_parquet_binary_digests_are_keyed_directly(
    spec: DatasetSpec, tmp_path: Path, dest: Path
) -> None:
    raw = hashlib.sha256(b"a@x.com").digest()
    table = pa.table(
        {
            "email_sha256": pa.array([raw, b"", b"short"], type=pa.binary()),
            "txn_ts": ["2024-01-01"] * 3,
            "brand": ["a"] * 3,
            "channel": ["online"] * 3,
            "amount_cents": [1, 2, 3],
            "consent_measurement": [True] * 3,
        }
    )
    pq.write_table(table.slice(0, 2), tmp_path / "ok.parquet")
    result = ingest(tmp_path / "ok.parquet", spec, dest)
    assert (result.rows, result.dropped_identifiers) == (1, 1)
    assert pq.read_table(result.path).column("pid").to_pylist() == [expected_pid("a@x.com")]
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(DatasetInvalid, match=r"not a SHA-256 digest \(first at row 3\)"):
        ingest(tmp_path / "bad.parquet", spec, dest)
