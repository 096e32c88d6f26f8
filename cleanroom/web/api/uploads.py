"""Multipart uploads: the ``file`` part streamed to a private temporary file, deleted afterwards."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from flask import request
from werkzeug.datastructures import FileStorage

from cleanroom.errors import InvalidRequest, UnsupportedMediaType
from cleanroom.scratch import held
from cleanroom.web.parsing import strict_json
from cleanroom.web.state import current_settings

UploadFormat = Literal["csv", "parquet"]
_SUFFIX_FORMATS: dict[str, UploadFormat] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
UPLOAD_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"}},
}


def upload_part(name: str = "file") -> FileStorage:
    """The multipart file part ``name``, or ``invalid_request`` saying how to send it."""
    if not request.mimetype.startswith("multipart/form-data"):
        raise UnsupportedMediaType(f"send a multipart/form-data body with a '{name}' part")
    storage = request.files.get(name)
    if storage is None:
        raise InvalidRequest(f"the multipart body needs a '{name}' part holding the file")
    return storage


def form_json(name: str) -> Any:
    """A multipart text field holding JSON (e.g. a dataset's ``spec``)."""
    raw = request.form.get(name)
    if raw is None:
        raise InvalidRequest(f"the multipart body needs a '{name}' field holding JSON")
    try:
        return strict_json(raw)
    except (ValueError, RecursionError):
        raise InvalidRequest(f"the '{name}' field is not valid JSON") from None


def declared_format(storage: FileStorage) -> UploadFormat | None:
    """The format the file name claims (``.csv``, ``.parquet``); None: sniff the bytes.

    >>> declared_format(FileStorage(filename="sales.PARQUET"))
    'parquet'
    >>> declared_format(FileStorage(filename="export.txt")) is None
    True
    """
    suffix = Path(storage.filename or "").suffix.lower()
    return _SUFFIX_FORMATS.get(suffix)


@contextmanager
def saved_upload(storage: FileStorage) -> Iterator[Path]:
    """Stream the part to ``<data_dir>/tmp`` (never the client's file name) and remove it after."""
    tmp_dir = current_settings().data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=tmp_dir)
    os.close(handle)
    path = Path(name)
    try:
        with held(path):  # a crash leaves it unheld: the next sweep removes it
            storage.save(path)
            yield path
    finally:
        path.unlink(missing_ok=True)
