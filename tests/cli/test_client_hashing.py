"""`cleanroom hash` backend: streaming a CSV and replacing one column by its SHA-256 hex."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cleanroom.client.hashing import hash_identifier_file
from cleanroom.client.normalize import hash_normalized
from cleanroom.errors import InvalidRequest


def read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_email_column_is_hashed_in_place_and_others_kept(tmp_path: Path) -> None:
    src = tmp_path / "crm.csv"
    src.write_text(
        "customer_id,Email,segment\n"
        "1,Jane.Saoirse+Work@gmail.com,gold\n"
        '2,"  USER@example.com ","silver, plus"\n'
        "3,,bronze\n"
        "4,not-an-email,bronze\n",
        encoding="utf-8",
    )
    out = tmp_path / "crm_hashed.csv"
    stats = hash_identifier_file(src, out, "email")
    assert (stats.rows, stats.hashed, stats.invalid) == (4, 2, 2)
    assert read(out) == [
        ["customer_id", "Email", "segment"],
        ["1", hash_normalized("janesaoirse@gmail.com"), "gold"],
        ["2", hash_normalized("user@example.com"), "silver, plus"],
        ["3", "", "bronze"],
        ["4", "", "bronze"],
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.csv", "crm_hashed.csv"]


def test_phone_single_column_with_region_and_rename(tmp_path: Path) -> None:
    src = tmp_path / "phones.csv"
    src.write_text("mobile\n(234) 567-8901\n12\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    stats = hash_identifier_file(src, out, "phone", default_region="US", out_column="phone_sha256")
    assert (stats.rows, stats.hashed, stats.invalid) == (2, 1, 1)
    assert read(out) == [["phone_sha256"], [hash_normalized("+12345678901")], [""]]


def test_semicolon_files_and_named_columns(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("id;contact\n1;a@b.example\n", encoding="utf-8")
    out = tmp_path / "y.csv"
    hash_identifier_file(src, out, "email", column="contact")
    assert read(out)[1] == [f"1;{hash_normalized('a@b.example')}"]  # same dialect kept


def test_ambiguous_or_missing_column_is_refused_and_nothing_written(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidRequest, match="name the column"):
        hash_identifier_file(src, tmp_path / "o.csv", "email")
    with pytest.raises(InvalidRequest, match="no column 'c'"):
        hash_identifier_file(src, tmp_path / "o.csv", "email", column="c")
    with pytest.raises(InvalidRequest, match="must differ"):
        hash_identifier_file(src, src, "email", column="a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_large_file_streams(tmp_path: Path) -> None:
    src = tmp_path / "big.csv"
    with src.open("w", encoding="utf-8") as fh:
        fh.write("email\n")
        for i in range(50_000):
            fh.write(f"User{i}@Example.com\n")
    stats = hash_identifier_file(src, tmp_path / "big_out.csv", "email")
    assert stats.hashed == 50_000
    with (tmp_path / "big_out.csv").open() as fh:
        fh.readline()
        assert fh.readline().strip() == hash_normalized("user0@example.com")
