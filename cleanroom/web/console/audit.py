"""The audit log, paged and filtered by event, with a verify button."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from cleanroom.errors import InvalidRequest
from cleanroom.events import EVENT_NAMES
from cleanroom.services import audit, collaborations
from cleanroom.web.console.blueprint import bp, page, svc, who
from cleanroom.web.console.session import signed_in

PAGE_SIZE = 50


def _seq(name: str) -> int | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise InvalidRequest(f"{name} must be the seq of an event, a whole number")
    return int(raw)


@bp.get("/c/<cid>/audit")
@signed_in
def audit_log(cid: str) -> Response:
    """The newest events first; ``before`` pages back, ``event`` keeps one event name."""
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    event = request.args.get("event") or None
    if event is not None and event not in EVENT_NAMES:
        raise InvalidRequest("event must be one of the audit event names")
    before = _seq("before")
    found = audit.list_audit(
        services, principal, cid, limit=PAGE_SIZE + 1, name=event, before_seq=before,
        newest_first=True,
    )  # fmt: skip
    more = len(found) > PAGE_SIZE
    events = found[:PAGE_SIZE]
    verification = (
        audit.verify_audit(services, principal, cid) if request.args.get("verify") else None
    )
    return page(
        "audit.html", collab=collab, events=events, event=event, event_names=sorted(EVENT_NAMES),
        older=events[-1].seq if more and events else None, before=before,
        verification=verification,
    )  # fmt: skip
