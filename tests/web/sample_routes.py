"""Test-only routes declared with the real ``route()`` API, mounted under /v1/_test."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify

from cleanroom.errors import (
    BudgetExhausted,
    CleanroomError,
    Conflict,
    DatasetExpired,
    DatasetInvalid,
    ExecutionFailed,
    Forbidden,
    NotFound,
    TemplateNotApproved,
    TemplateRejected,
    Violation,
)
from cleanroom.web.auth import current_principal
from cleanroom.web.parsing import idempotency_key, json_object_body, page_params
from cleanroom.web.routing import NamedSchema, ResponseDoc, route

SECRET_MESSAGE = "password=hunter2 SELECT email FROM customers WHERE id=42"

RAISABLE: dict[str, CleanroomError] = {
    "forbidden": Forbidden("only the retailer admin may approve templates"),
    "not_found": NotFound("no such collaboration"),
    "conflict": Conflict("the run has not succeeded yet"),
    "template_not_approved": TemplateNotApproved("the template is pending approval"),
    "budget_exhausted": BudgetExhausted({"epsilon": 1.0}, {"epsilon": 0.25}),
    "dataset_invalid": DatasetInvalid("column 'amount' is missing"),
    "dataset_expired": DatasetExpired("the dataset was purged"),
    "template_rejected": TemplateRejected([Violation("row_level_output", "no GROUP BY", 3, 8)]),
    "execution_failed": ExecutionFailed("the query failed; the run was not charged"),
}

WIDGET = NamedSchema(
    "TestWidget",
    {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 20},
            "size": {"type": "integer", "minimum": 1},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
    },
)


def sample_blueprint() -> Blueprint:
    """A fresh blueprint (Flask forbids adding routes to one already registered)."""
    bp = Blueprint("sample", __name__)

    @route(bp, "/boom", summary="Always fails", auth=False, responses={})
    def boom() -> Response:
        raise RuntimeError(SECRET_MESSAGE)

    @route(bp, "/disk-full", summary="Write to a full device", auth=False, responses={})
    def disk_full() -> Response:
        with open("/dev/full", "wb") as device:  # the kernel's always-full device: ENOSPC
            device.write(b"x")
            device.flush()
        return jsonify({})

    @route(bp, "/raise/<code>", summary="Raise a chosen error", auth=False, responses={})
    def raise_error(code: str) -> Response:
        raise RAISABLE[code]

    @route(
        bp,
        "/widgets",
        methods=["POST"],
        summary="Echo a widget",
        request_schema=WIDGET,
        idempotent=True,
        responses={201: ResponseDoc("The widget", WIDGET)},
    )
    def create_widget() -> tuple[Response, int]:
        body = json_object_body()
        return jsonify(
            widget=body, key=idempotency_key(), principal=current_principal().to_dict()
        ), 201

    @route(bp, "/raw", methods=["POST"], summary="Echo any JSON object", auth=False, responses={})
    def echo_raw() -> Response:
        return jsonify(json_object_body())

    @route(
        bp,
        "/widgets/<int:wid>",
        summary="A page of widgets",
        auth=False,
        paginated=True,
        responses={200: ResponseDoc("The page", {"type": "object"})},
    )
    def list_widgets(wid: int) -> Response:
        return jsonify(wid=wid, page=page_params(default_limit=10).to_dict())

    return bp


def install_sample_routes(app: Flask) -> Flask:
    app.register_blueprint(sample_blueprint(), url_prefix="/v1/_test")
    return app
