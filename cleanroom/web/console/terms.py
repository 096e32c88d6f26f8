"""Changing a collaboration's terms from the console (retailer admin): the policy and dates, and
a partner's budget. The pages send exactly what ``PATCH /v1/collaborations/{id}`` and
``POST .../budget/{org}/raise`` take to the same use cases, so the same rules hold: tightening is
free, a loosening is refused until it is confirmed (and recorded as one), budgets only go up.

A form field left as it was is not part of the amendment: only what the admin changed is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import request
from werkzeug.wrappers import Response

from cleanroom.errors import CleanroomError, InvalidRequest, PolicyLoosening
from cleanroom.services import access, budget, collaborations
from cleanroom.services.amendments import RULES
from cleanroom.types import CollaborationPolicy
from cleanroom.web.console.blueprint import bp, page, svc, who
from cleanroom.web.console.session import signed_in

DATE_FIELDS = ("starts_at", "ends_at")


def form_value(value: Any) -> str:
    """A policy value or a date as an input shows it.

    >>> form_value(("measurement", "audience_sizing")), form_value(None), form_value(1e-06)
    ('measurement, audience_sizing', '', '1e-06')
    >>> form_value(datetime(2027, 1, 31, 12, 0, tzinfo=UTC))
    '2027-01-31T12:00'
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _parsed(key: str, text: str, current: Any) -> Any:
    """The value typed for policy field ``key`` (its type is that of the current value)."""
    if key == "purposes":
        return [p.strip() for p in text.split(",") if p.strip()]
    if key == "budget_refresh":
        return text or None
    try:
        return int(text) if isinstance(current, int) else float(text)
    except ValueError:
        kind = "a whole number" if isinstance(current, int) else "a number"
        raise InvalidRequest(f"{key.replace('_', ' ')} must be {kind}") from None


def amendment_body(posted: Mapping[str, str], policy: CollaborationPolicy,
                   dates: Mapping[str, datetime | None]) -> dict[str, Any]:  # fmt: skip
    """The ``PATCH`` body for the fields of ``posted`` that differ from the terms shown."""
    patch: dict[str, Any] = {}
    for key in CollaborationPolicy.KEYS:
        text = posted.get(key, "").strip()
        current = getattr(policy, key)
        if key in posted and text != form_value(current):
            patch[key] = _parsed(key, text, current)
    body: dict[str, Any] = {"policy": patch} if patch else {}
    for key in DATE_FIELDS:
        text = posted.get(key, "").strip()
        if key in posted and text != form_value(dates[key]):
            body[key] = f"{text}:00+00:00" if text else None  # the form's times are UTC
    if body:
        body["allow_loosening"] = posted.get("allow_loosening") == "yes"
        reason = posted.get("reason", "").strip()
        if reason:
            body["reason"] = reason
    return body


def _page(cid: str, status: int = 200, **context: Any) -> Response:
    services, principal = svc(), who()
    collab = collaborations.get_collaboration(services, principal, cid)
    policy = collaborations.policy_of(collab)
    fields = [(key, form_value(getattr(policy, key)), RULES[key].tighter)
              for key in CollaborationPolicy.KEYS]  # fmt: skip
    dates = [(key, form_value(getattr(collab, key)), RULES[key].tighter) for key in DATE_FIELDS]
    lines = budget.get_budget(services, principal, cid)
    posted = context.pop("posted", {})
    return page("terms.html", status, collab=collab, fields=fields, dates=dates, lines=lines,
                posted=posted, **context)  # fmt: skip


@bp.get("/c/<cid>/terms")
@signed_in
def terms(cid: str) -> Response:
    access.authorize(svc(), who(), cid, "collaboration.update")
    return _page(cid)


@bp.post("/c/<cid>/terms")
@signed_in
def terms_amend(cid: str) -> Response:
    """Amend the policy and dates with what the admin changed on the form."""
    services, principal = svc(), who()
    collab = access.authorize(services, principal, cid, "collaboration.update")
    dates = {key: getattr(collab, key) for key in DATE_FIELDS}
    posted = request.form.to_dict()
    try:
        body = amendment_body(posted, collaborations.policy_of(collab), dates)
        if not body:
            return _page(cid, message="Nothing changed: the terms are as they were")
        amendment = collaborations.update_collaboration(services, principal, cid, body)
    except PolicyLoosening as err:
        return _page(cid, err.status, posted=posted, loosening=err.fields, error=err.detail)
    except CleanroomError as err:
        if err.status >= 500 or err.status in (401, 403, 404):
            raise
        return _page(cid, err.status, posted=posted, error=err.detail)
    changed = ", ".join(c.field for c in amendment.changes)
    return _page(cid, message=f"Terms amended ({changed})", warnings=amendment.warnings)


@bp.post("/c/<cid>/budget/<org>/raise")
@signed_in
def budget_raise(cid: str, org: str) -> Response:
    """Top up one partner's budget line (never lowers it)."""
    access.authorize(svc(), who(), cid, "budget.raise")
    add: dict[str, float] = {}
    try:
        for key in ("epsilon", "delta"):
            text = request.form.get(key, "").strip()
            if text:
                try:
                    add[key] = float(text)
                except ValueError:
                    raise InvalidRequest(f"the {key} to add must be a number") from None
        body: dict[str, Any] = {"add": add}
        reason = request.form.get("reason", "").strip()
        if reason:
            body["reason"] = reason
        raised = budget.raise_budget(svc(), who(), cid, org, body)
    except CleanroomError as err:
        if err.status >= 500 or err.status in (401, 403, 404):
            raise
        return _page(cid, err.status, budget_error=err.detail, budget_org=org)
    after = raised.after
    message = (
        f"Budget of {org} raised to epsilon {after.total_epsilon:g}, delta {after.total_delta:g}"
    )
    return _page(cid, message=message)
