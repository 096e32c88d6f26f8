"""Suppression lists: hashed identifiers to distinct pids, with the dataset identifier rules."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from cleanroom.errors import DatasetInvalid
from cleanroom.ingest import (
    collaboration_key,
    pid_for_digest,
    rekey_identifier_file,
    rekey_identifiers,
)
from tests.ingest.conftest import COLLAB, SECRET

KEY = {"secret_key": SECRET, "collaboration_id": COLLAB}


def pid(email: str) -> bytes:
    key = collaboration_key(SECRET, COLLAB)
    return pid_for_digest(key, hashlib.sha256(email.encode()).digest())


def test_values_are_deduplicated_blanks_skipped_spellings_merged() -> None:
    raw = hashlib.sha256(b"a@x.com").digest()
    values = [raw.hex(), base64.b64encode(raw).decode(), "", "  ", hashlib.sha256(b"b").hexdigest()]
    pids = rekey_identifiers(values, **KEY)
    assert pids == sorted([pid("a@x.com"), pid("b")])


@pytest.mark.parametrize(
    ("value", "words"),
    [("jane@example.com", "raw email addresses"), ("+44 20 7946 0958", "raw phone numbers")],
)
def test_raw_pii_is_refused_by_position(value: str, words: str) -> None:
    values = [hashlib.sha256(b"a").hexdigest(), value]
    with pytest.raises(DatasetInvalid) as info:
        rekey_identifiers(values, **KEY)
    assert words in info.value.detail
    assert "first at position 2" in info.value.detail
    assert value not in info.value.detail


def test_csv_file_picks_the_identifier_column(tmp_path: Path) -> None:
    path = tmp_path / "optout.csv"
    a, b = hashlib.sha256(b"a@x.com").hexdigest(), hashlib.sha256(b"b").hexdigest()
    path.write_text(f"reason,email_sha256\nasked,{a}\nasked,{b}\nasked,{a}\n,\n")
    assert rekey_identifier_file(path, **KEY) == sorted([pid("a@x.com"), pid("b")])
    assert rekey_identifier_file(path, column="EMAIL_SHA256", **KEY) == sorted(
        [pid("a@x.com"), pid("b")]
    )
    with pytest.raises(DatasetInvalid, match="not a SHA-256 digest"):
        rekey_identifier_file(path, column="reason", **KEY)


def test_single_column_file_without_known_name(tmp_path: Path) -> None:
    path = tmp_path / "optout.csv"
    path.write_text(f"h\n{hashlib.sha256(b'a@x.com').hexdigest()}\n")
    assert rekey_identifier_file(path, **KEY) == [pid("a@x.com")]
