"""A file uploaded to the console and kept while its owner edits the spec drafted from it.

The console uploads in two steps: the file first, so that its header can be read and a spec
proposed; then the confirmed spec, which registers the kept file. In between the file sits in
``<data_dir>/tmp/staged-<token>`` and only the signed session that uploaded it knows the token
(a session holds one staged file at a time). A staged file is removed when it is registered,
discarded, replaced by the session's next one, or left longer than
:data:`cleanroom.scratch.STAGED_TTL_SECONDS` (swept at start-up and on every new upload).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flask import session
from werkzeug.datastructures import FileStorage

from cleanroom.errors import NotFound
from cleanroom.scratch import STAGED_PREFIX, STAGED_TTL_SECONDS, held, sweep
from cleanroom.web.state import current_settings

_SESSION_KEY = "staged"


@dataclass(frozen=True)
class Staged:
    """The session's staged upload: where it is, for which collaboration, as what."""

    path: Path
    collaboration_id: str
    file_format: Literal["csv", "parquet"] | None
    kind: str
    filename: str


def _folder() -> Path:
    folder = current_settings().data_dir / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(token: str) -> Path:
    return _folder() / f"{STAGED_PREFIX}{token}"


def stage(
    storage: FileStorage,
    collaboration_id: str,
    file_format: Literal["csv", "parquet"] | None,
    kind: str,
) -> Staged:
    """Keep ``storage`` for this session (replacing what it kept before)."""
    discard()
    sweep(_folder(), (STAGED_PREFIX,), STAGED_TTL_SECONDS)
    handle, name = tempfile.mkstemp(prefix=STAGED_PREFIX, dir=_folder())
    os.close(handle)
    path = Path(name)
    try:
        with held(path):
            storage.save(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    token = path.name.removeprefix(STAGED_PREFIX)
    filename = Path(storage.filename or "upload").name[:200]
    session[_SESSION_KEY] = {
        "token": token,
        "cid": collaboration_id,
        "format": file_format,
        "kind": kind,
        "filename": filename,
        "nonce": secrets.token_hex(4),  # a new cookie value even for an identical file
    }
    return Staged(path, collaboration_id, file_format, kind, filename)


def staged(collaboration_id: str) -> Staged:
    """This session's staged upload for ``collaboration_id``, or ``404 not_found``."""
    entry = session.get(_SESSION_KEY)
    if not isinstance(entry, dict) or entry.get("cid") != collaboration_id:
        raise NotFound("no file is waiting for its spec here: upload the file again")
    token = str(entry.get("token", ""))
    path = _path(token)
    if not token or "/" in token or not path.is_file():
        session.pop(_SESSION_KEY, None)
        raise NotFound("the uploaded file is no longer kept (it expired): upload it again")
    file_format = entry.get("format")
    return Staged(
        path,
        collaboration_id,
        file_format if file_format in ("csv", "parquet") else None,
        str(entry.get("kind", "personal")),
        str(entry.get("filename", "upload")),
    )


def discard() -> None:
    """Forget this session's staged upload and remove its file."""
    entry = session.pop(_SESSION_KEY, None)
    if isinstance(entry, dict):
        token = str(entry.get("token", ""))
        if token and "/" not in token:
            _path(token).unlink(missing_ok=True)
