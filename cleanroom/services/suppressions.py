"""Opt-outs: hashed identifiers a collaboration must never use, effective for the next run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cleanroom.errors import InvalidRequest
from cleanroom.events import AuditEvent
from cleanroom.ingest import rekey_identifier_file, rekey_identifiers
from cleanroom.services.access import authorize
from cleanroom.services.context import Services
from cleanroom.services.datasets import read_limits
from cleanroom.types import Principal

MAX_INLINE = 100_000


def add_suppressions(
    svc: Services,
    who: Principal,
    collaboration_id: str,
    *,
    identifiers: Sequence[str] | None = None,
    upload: Path | None = None,
) -> dict[str, int]:
    """Re-key hashed identifiers (inline list or CSV file) and add them, idempotently."""
    collab = authorize(svc, who, collaboration_id, "suppression.add")
    if (identifiers is None) == (upload is None):
        raise InvalidRequest('send either a file or a JSON body {"identifiers": [...]}')
    key = {"secret_key": svc.settings.secret_key, "collaboration_id": collab.id}
    if identifiers is not None:
        if not isinstance(identifiers, list) or not all(isinstance(i, str) for i in identifiers):
            raise InvalidRequest("identifiers must be a list of hashed identifiers (strings)")
        if len(identifiers) > MAX_INLINE:
            raise InvalidRequest(f"send more than {MAX_INLINE} identifiers as a file")
        pids = rekey_identifiers(identifiers, **key)
    else:
        assert upload is not None
        pids = rekey_identifier_file(upload, **key, limits=read_limits(svc.settings))
    added = svc.store.add_suppressions(
        collab.id,
        list(pids),
        audit=AuditEvent("suppression.added", who.sub, who.org, {"received": len(pids)}),
    )
    return {"added": added}
