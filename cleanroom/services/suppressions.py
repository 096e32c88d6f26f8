"""Opt-outs: hashed identifiers a collaboration must never use, effective for the next run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cleanroom.errors import InvalidRequest
from cleanroom.events import SuppressionAdded, SuppressionRemoved
from cleanroom.ingest import rekey_identifier_file, rekey_identifiers
from cleanroom.services.access import authorize
from cleanroom.services.context import Services
from cleanroom.services.datasets import read_limits
from cleanroom.types import Principal

MAX_INLINE = 100_000


def _pids(
    svc: Services,
    collaboration_id: str,
    identifiers: Sequence[str] | None,
    upload: Path | None,
) -> list[bytes]:
    if (identifiers is None) == (upload is None):
        raise InvalidRequest('send either a file or a JSON body {"identifiers": [...]}')
    key = {"secret_key": svc.settings.secret_key, "collaboration_id": collaboration_id}
    if identifiers is not None:
        if not isinstance(identifiers, list) or not all(isinstance(i, str) for i in identifiers):
            raise InvalidRequest("identifiers must be a list of hashed identifiers (strings)")
        if len(identifiers) > MAX_INLINE:
            raise InvalidRequest(f"send more than {MAX_INLINE} identifiers as a file")
        return list(rekey_identifiers(identifiers, **key))
    assert upload is not None
    return list(rekey_identifier_file(upload, **key, limits=read_limits(svc.settings)))


def remove_suppressions(
    svc: Services,
    who: Principal,
    collaboration_id: str,
    *,
    identifiers: Sequence[str] | None = None,
    upload: Path | None = None,
) -> dict[str, int]:
    """Take hashed identifiers off the list (a person who opted back in): ``{"removed": n}``."""
    collab = authorize(svc, who, collaboration_id, "suppression.remove")
    pids = _pids(svc, collab.id, identifiers, upload)
    removed = svc.store.remove_suppressions(
        collab.id,
        pids,
        audit=SuppressionRemoved(received=len(pids)).by(who.sub, who.org),
    )
    return {"removed": removed}


def count_suppressions(svc: Services, who: Principal, collaboration_id: str) -> dict[str, int]:
    """How many people the list holds (its owner, the retailer admin): ``{"count": n}``. The
    identifiers themselves are never read back."""
    collab = authorize(svc, who, collaboration_id, "suppression.count")
    return {"count": svc.store.count_suppressions(collab.id)}


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
    pids = _pids(svc, collab.id, identifiers, upload)
    added = svc.store.add_suppressions(
        collab.id,
        list(pids),
        audit=SuppressionAdded(received=len(pids)).by(who.sub, who.org),
    )
    return {"added": added}
