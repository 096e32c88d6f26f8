"""Reading and verifying a collaboration's hash-chained audit log (every member may).

Every member reads every event, so an event's hashed ``details`` hold nothing that only some
members may know: ``dataset.registered`` carries no row counts (a dataset's exact figures are on
its version, for its owner org only) and ``run.failed`` names the run but not why it failed (the
code is on the run, for the run's org and the retailer). Each member can therefore recompute
every new record's hash from what it reads, and ``verify`` checks the whole chain for anyone.

Two things depend on who reads:

- ``restricted``, outside the hashed record: on ``run.failed``, the run's ``error`` (code and
  message) for members of the run's org and of the retailer org, auditors included. It is read
  from the run, the same text ``GET .../runs/{rid}`` shows them.
- ``redacted``: events written by earlier versions kept such figures in their hashed details
  (``rows`` on ``dataset.registered``, ``code``/``error_code``/``reason`` on ``run.failed``). Those
  keys are withheld from members outside the audience above and named in ``redacted``; the record's
  ``hash`` and ``prev_hash`` are unchanged, so the chain still links, and ``verify`` (which the
  server computes from the stored records) still covers them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cleanroom.errors import NotFound
from cleanroom.services.access import authorize
from cleanroom.services.context import Services
from cleanroom.store import AuditRecord, AuditVerification, Collaboration
from cleanroom.types import Principal

# Detail keys that earlier versions hashed into events every member reads, per event name.
LEGACY_PRIVATE_DETAILS: Mapping[str, tuple[str, ...]] = {
    "dataset.registered": ("rows",),
    "run.failed": ("code", "error_code", "reason"),
}


def list_audit(
    svc: Services, who: Principal, collaboration_id: str, after_seq: int = 0, limit: int = 100
) -> list[AuditRecord]:
    """Events in order, as ``who`` may see them (module docstring)."""
    collab = authorize(svc, who, collaboration_id, "audit.read")
    found = svc.store.list_audit(collab.id, after_seq=after_seq, limit=limit)
    return [_as_seen_by(svc, who, collab, record) for record in found]


def verify_audit(svc: Services, who: Principal, collaboration_id: str) -> AuditVerification:
    collab = authorize(svc, who, collaboration_id, "audit.verify")
    return svc.store.verify_audit(collab.id)


def in_audience(who: Principal, collab: Collaboration, record: AuditRecord) -> bool:
    """True when ``who`` may see the private facts of ``record``.

    A ``dataset.registered`` event's org is the dataset's owner; a ``run.failed`` event's org is
    the run's, and the retailer sees every run. Other events have no private facts.
    """
    if record.name == "dataset.registered":
        return who.org == record.org
    if record.name == "run.failed":
        return who.org in (record.org, collab.retailer_org)
    return True


def _as_seen_by(
    svc: Services, who: Principal, collab: Collaboration, record: AuditRecord
) -> AuditRecord:
    if not in_audience(who, collab, record):
        private = LEGACY_PRIVATE_DETAILS.get(record.name, ())
        hidden = tuple(key for key in private if key in record.details)
        if not hidden:
            return record
        details = {k: v for k, v in record.details.items() if k not in hidden}
        return dataclasses.replace(record, details=details, redacted=hidden)
    if record.name == "run.failed":
        run_id = record.details.get("run_id")
        try:
            run = svc.store.get_run(str(run_id), collaboration_id=collab.id)
        except NotFound:
            return record
        if run.error_code is not None:
            error = {"code": run.error_code, "message": run.error_message}
            return dataclasses.replace(record, restricted={"error": error})
    return record
