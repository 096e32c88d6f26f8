"""Hashing a CSV file's email or phone column on the owner's machine (``cleanroom hash``, the
demo's uploads), before the file leaves its owner (docs/privacy.md). Part of the client, so a
partner with only the client installed can hash (docs/client.md).

Streams the file row by row (bounded memory, any size), writes the normalized SHA-256 hex in
place of the column and keeps every other column as it was. A value that does not normalize
becomes an empty field (it will be dropped at ingestion) and is counted. The output appears
under its final name only when complete.
"""

from __future__ import annotations

import csv
import functools
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleanroom.client.normalize import hash_normalized, normalize_email, normalize_phone
from cleanroom.errors import InvalidRequest

KINDS = ("email", "phone")
DEFAULT_REGION = "US"
_DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("email", "email_address"),
    "phone": ("phone", "phone_number"),
}
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class HashStats:
    rows: int  # data rows read
    hashed: int  # values normalized and hashed
    invalid: int  # blank values and values that are not an email / phone number

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "hashed": self.hashed, "invalid": self.invalid}


def _pick_column(header: list[str], kind: str, column: str | None) -> int:
    names = [h.strip() for h in header]
    if column is not None:
        if column not in names:
            raise InvalidRequest(f"the file has no column '{column}'")
        return names.index(column)
    lowered = [n.lower() for n in names]
    for candidate in _DEFAULT_COLUMNS[kind]:
        if candidate in lowered:
            return lowered.index(candidate)
    if len(names) == 1:
        return 0
    raise InvalidRequest(
        f"no column named {' or '.join(_DEFAULT_COLUMNS[kind])}; name the column to hash"
    )


@functools.lru_cache(maxsize=1 << 17)
def _email_digest(value: str | None) -> str:
    """The hex digest of an email, or "" when it does not normalize. Remembered for the last
    131,072 distinct values (tens of MB at most): files list the same people again and again."""
    normal = normalize_email(value)
    return hash_normalized(normal) if normal is not None else ""


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def hash_identifier_file(
    in_path: Path | str,
    out_path: Path | str,
    kind: str,
    column: str | None = None,
    default_region: str | None = DEFAULT_REGION,
    *,
    out_column: str | None = None,
) -> HashStats:
    """Write ``out_path``: ``in_path`` with its ``kind`` column (``email`` or ``phone``; named by
    ``column``, else the first column named email/phone, or the only column) replaced by the
    normalized SHA-256 hex. Values that do not normalize become empty and are counted in
    ``invalid``; phone numbers without a country code are read as numbers of ``default_region``
    (None: every number must carry its country code). ``out_column`` renames the hashed column
    in the header (default: keep its name)."""
    if kind not in KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}")
    in_path, out_path = Path(in_path), Path(out_path)
    if in_path.resolve() == out_path.resolve():
        raise InvalidRequest("the output file must differ from the input file")
    tmp = out_path.parent / f".tmp-{uuid.uuid4().hex}{out_path.suffix}"
    rows = hashed = 0
    try:
        with in_path.open(encoding="utf-8-sig", newline="") as src:
            dialect = _dialect(src.read(_SNIFF_BYTES))
            src.seek(0)
            reader = csv.reader(src, dialect)
            header = next(reader, None)
            if header is None:
                raise InvalidRequest("the input file is empty")
            index = _pick_column(header, kind, column)
            if out_column is not None:
                header[index] = out_column
            with tmp.open("w", encoding="utf-8", newline="") as dst:
                writer = csv.writer(dst, dialect)
                writer.writerow(header)
                for record in reader:
                    if not record:
                        continue  # blank line
                    rows += 1
                    value = record[index] if index < len(record) else None
                    if kind == "email":
                        digest = _email_digest(value)
                    else:
                        normal = normalize_phone(value, default_region)
                        digest = hash_normalized(normal) if normal is not None else ""
                    hashed += digest != ""
                    record += [""] * (index + 1 - len(record))
                    record[index] = digest
                    writer.writerow(record)
        os.replace(tmp, out_path)
    except UnicodeDecodeError:
        tmp.unlink(missing_ok=True)
        raise InvalidRequest("the input file is not UTF-8 text") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return HashStats(rows=rows, hashed=hashed, invalid=rows - hashed)
