"""Routes about the server itself, outside ``/v1``: liveness, readiness and the OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from cleanroom.errors import ServiceUnavailable
from cleanroom.web.openapi import build_openapi
from cleanroom.web.routing import NamedSchema, ResponseDoc, route
from cleanroom.web.state import app_state

bp = Blueprint("meta", __name__)
_log = logging.getLogger("cleanroom.web")

HEALTH = NamedSchema(
    "Health",
    {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
    },
)
READINESS = NamedSchema(
    "Readiness",
    {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"type": "string", "enum": ["ready"]},
            "checks": {
                "type": "object",
                "description": "Component name -> 'ok' (app, store, engine, disk).",
                "additionalProperties": {"type": "string", "enum": ["ok"]},
            },
        },
    },
)


class NotReady(ServiceUnavailable):
    """Readiness failed; the body names which components are not ready (never why)."""

    def __init__(self, checks: dict[str, str]) -> None:
        self.checks = checks
        failing = ", ".join(name for name, state in checks.items() if state != "ok")
        super().__init__(f"not ready: {failing}")

    def extra(self) -> dict[str, Any]:
        return {"checks": self.checks}


@route(
    bp,
    "/healthz",
    summary="Liveness",
    auth=False,
    tags=["server"],
    responses={200: ResponseDoc("The process is serving requests.", HEALTH)},
)
def healthz() -> Response:
    """Answers as long as the process can serve HTTP; checks nothing else."""
    return jsonify(status="ok")


@route(
    bp,
    "/readyz",
    summary="Readiness",
    auth=False,
    tags=["server"],
    responses={
        200: ResponseDoc(
            "The store and the engine are reachable and the data volume has room.", READINESS
        )
    },
    errors=[503],
)
def readyz() -> Response:
    """Ready when the services context reports every component ready: the store answers, the
    engine can serve runs and the data volume has at least ``min_free_disk_bytes`` free."""
    state = app_state()
    checks = {"app": "ok"}
    if state.has_services:
        try:
            reported = state.services().ready()
            checks.update(
                {name: "ok" if ok is True else "failing" for name, ok in reported.items()}
            )
        except Exception:  # noqa: BLE001 - a readiness probe reports failure, it does not raise it
            _log.exception("readiness check failed")
            checks["services"] = "failing"
    if any(value != "ok" for value in checks.values()):
        raise NotReady(checks)
    return jsonify(status="ready", checks=checks)


@route(
    bp,
    "/openapi.json",
    summary="OpenAPI 3.1 description of every route",
    auth=False,
    tags=["server"],
    responses={200: ResponseDoc("The OpenAPI document.", {"type": "object"})},
)
def openapi_json() -> Response:
    """Generated from the same route declarations the views use."""
    state = app_state()
    if state.openapi_document is None:
        state.openapi_document = build_openapi(current_app)
    return jsonify(state.openapi_document)
