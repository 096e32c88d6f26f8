"""The ``/v1`` resource blueprints. ``create_app`` mounts each one under ``/v1``.

A resource module declares ``bp = Blueprint("<resource>", __name__)`` and its views with
:func:`cleanroom.web.routing.route`; add its ``bp`` to :data:`BLUEPRINTS` and it is served,
authenticated and documented in ``/openapi.json``.
"""

from __future__ import annotations

from flask import Blueprint

from cleanroom.web.api import (
    audit,
    budget,
    collaborations,
    datasets,
    identity,
    kpis,
    partners,
    reports,
    runs,
    suppressions,
    templates,
)

API_PREFIX = "/v1"
BLUEPRINTS: tuple[Blueprint, ...] = (
    identity.bp,
    collaborations.bp,
    partners.bp,
    datasets.bp,
    suppressions.bp,
    templates.bp,
    runs.bp,
    reports.bp,
    kpis.bp,
    budget.bp,
    audit.bp,
)
