"""Helpers for the ingest tests: a dataset spec like docs/specs.md's, digests, CSV writing."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from cleanroom.specs import DatasetSpec

SECRET = "ingest-test-secret"
COLLAB = "collab-a"

SPEC: dict[str, Any] = {
    "name": "transactions",
    "kind": "personal",
    "purposes": ["measurement"],
    "columns": {
        "email_sha256": {"role": "identifier"},
        "txn_ts": {"role": "timestamp"},
        "brand": {"role": "dimension"},
        "channel": {"role": "dimension", "values": ["online", "instore"]},
        "amount_cents": {"role": "metric", "bounds": [0, 50000]},
        "consent_measurement": {"role": "consent", "purpose": "measurement"},
        "postal_code": {"role": "blocked"},
    },
}
HEADER = ["email_sha256", "txn_ts", "brand", "channel", "amount_cents", "consent_measurement",
          "postal_code", "notes"]  # fmt: skip


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def row(email: str, amount: str = "1250", ts: str = "2024-05-01 10:00:00", **kw: str) -> list[str]:
    values = {
        "email_sha256": digest(email),
        "txn_ts": ts,
        "brand": "acme",
        "channel": "online",
        "amount_cents": amount,
        "consent_measurement": "yes",
        "postal_code": "75001",
        "notes": "free text that must not be stored",
    }
    values.update(kw)
    return [values[h] for h in HEADER]


@pytest.fixture
def spec() -> DatasetSpec:
    return DatasetSpec.from_dict(SPEC)


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    def write(
        rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER, name: str = "up.csv"
    ) -> Path:
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
        return path

    return write


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    out = tmp_path / "data"
    out.mkdir()
    return out
