"""Reading and verifying a collaboration's hash-chained audit log, each event as the reader may see
it (``cleanroom.visibility``, :data:`~cleanroom.visibility.AUDIT_EVENTS`).

Every member reads every position of the log. An event follows the resource it is about: the
retailer org and the event's owner org get it in full; a partner gets the retailer's events in
full and another partner's ``withheld``: position, ``prev_hash``, ``hash``, ``digest``, name, org
and time, never the actor, details or salt. Because an event's hash covers a salted digest of its
actor and details (``store.audit``), every member recomputes every hash from what it reads, and
the digest cannot be confirmed by guessing small details. A member that gets an event in full
(with its salt) also recomputes the digest. ``verify`` checks the stored chain for anyone.

Two more things depend on who reads:

- ``restricted``, outside the hashed record: on ``run.failed``, the run's ``error`` (code and
  message) for the members who see the event in full (the run's org and the retailer org). It is
  read from the run, the same text ``GET .../runs/{rid}`` shows them.
- ``redacted``: events written before 0003 could hold figures in their hashed details (``rows``
  on ``dataset.registered``, the ``figures`` of its ``AUDIT_EVENTS`` row). They are withheld from
  members who see datasets without figures and named in ``redacted``. Such a record, like a
  withheld record written before 0003 (``digest`` null: its hash covers the clear actor and
  details), links by ``prev_hash`` but its own hash cannot be recomputed by that member;
  ``verify`` still covers it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from cleanroom import visibility
from cleanroom.errors import NotFound
from cleanroom.services.access import authorize
from cleanroom.services.context import Services
from cleanroom.store import AuditRecord, AuditVerification, Collaboration
from cleanroom.types import Principal


def list_audit(
    svc: Services,
    who: Principal,
    collaboration_id: str,
    after_seq: int = 0,
    limit: int = 100,
    *,
    name: str | None = None,
    before_seq: int | None = None,
    newest_first: bool = False,
) -> list[AuditRecord]:
    """Events in order (the newest first with ``newest_first``), only those called ``name`` when
    given, as ``who`` may see them (module docstring). An event's name is seen by every member,
    so filtering on it reveals nothing more."""
    collab = authorize(svc, who, collaboration_id, "audit.read")
    found = svc.store.list_audit(
        collab.id,
        after_seq=after_seq,
        limit=limit,
        name=name,
        before_seq=before_seq,
        newest_first=newest_first,
    )
    owners = _EventOwners(svc, collab)
    return [_as_seen_by(svc, who, collab, record, owners) for record in found]


def verify_audit(svc: Services, who: Principal, collaboration_id: str) -> AuditVerification:
    collab = authorize(svc, who, collaboration_id, "audit.verify")
    return svc.store.verify_audit(collab.id)


class _EventOwners:
    """The owning org of each event (``AUDIT_EVENTS``' owner rule), template and run orgs read
    once per id for a page."""

    def __init__(self, svc: Services, collab: Collaboration) -> None:
        self._svc, self._collab = svc, collab
        self._templates: dict[str, str | None] = {}
        self._runs: dict[str, str | None] = {}

    def owner(self, record: AuditRecord) -> str | None:
        rule = visibility.event_rule(record.name)
        if rule.owner == visibility.TEMPLATE_ORG:
            return self._lookup(self._templates, record.details.get("template_id"), self._template)
        if rule.owner == visibility.RUN_ORG:
            return self._lookup(self._runs, record.details.get("run_id"), self._run)
        if rule.owner == visibility.PARTNER_ORG:
            named = record.details.get("partner_org")
            return named if isinstance(named, str) else None
        return record.org

    @staticmethod
    def _lookup(
        cache: dict[str, str | None], key: object, read: Callable[[str], str]
    ) -> str | None:
        if not isinstance(key, str):
            return None  # unknown owner: partners see it as another partner's
        if key not in cache:
            try:
                cache[key] = read(key)
            except NotFound:
                cache[key] = None
        return cache[key]

    def _template(self, template_id: str) -> str:
        return self._svc.store.get_template(template_id, collaboration_id=self._collab.id).org

    def _run(self, run_id: str) -> str:
        return self._svc.store.get_run(run_id, collaboration_id=self._collab.id).org


def _event_sight(
    who: Principal, collab: Collaboration, record: AuditRecord, owners: _EventOwners
) -> str:
    """``full``, ``no_figures`` or ``no_details`` for ``who``. The owner is looked up only when
    the answer depends on it (a retailer-org reader sees templates and reports in full either
    way)."""
    retailer = collab.retailer_org
    possible = (who.org, retailer, None) if who.org != retailer else (who.org, None)
    sights = {
        visibility.event_sight(
            record.name, reader_org=who.org, owner_org=owner, retailer_org=retailer
        )
        for owner in possible
    }
    if len(sights) == 1:
        return sights.pop()
    return visibility.event_sight(
        record.name, reader_org=who.org, owner_org=owners.owner(record), retailer_org=retailer
    )


def _as_seen_by(
    svc: Services,
    who: Principal,
    collab: Collaboration,
    record: AuditRecord,
    owners: _EventOwners,
) -> AuditRecord:
    seen = _event_sight(who, collab, record, owners)
    if seen == visibility.NO_DETAILS:
        return dataclasses.replace(record, withheld=True)
    if seen == visibility.NO_FIGURES:
        private = visibility.event_rule(record.name).figures
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
