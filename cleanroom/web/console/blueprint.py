"""The console's one blueprint and what every page shares: the signed-in principal, the services,
rendering with the layout's context, and errors shown as pages rather than problem documents."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, make_response, render_template
from werkzeug.exceptions import HTTPException

from cleanroom.errors import CleanroomError, InternalError, ServiceUnavailable
from cleanroom.permissions import allowed
from cleanroom.services.context import Services
from cleanroom.types import Principal
from cleanroom.web.console import session as console_session
from cleanroom.web.errors import handle_cleanroom_error, handle_unexpected, request_id
from cleanroom.web.state import current_services

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
# A strict policy: no script at all, styles only from the console's own stylesheet.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def who() -> Principal:
    """The signed-in principal (views are wrapped in ``signed_in``)."""
    principal = console_session.signed_in_principal()
    if principal is None:
        raise InternalError("a console view ran without a principal; this is a bug")
    return principal


def svc() -> Services:
    return current_services(Services)


def can(action: str) -> bool:
    """Whether the signed-in role may ever perform ``action`` (``cleanroom.permissions``): only
    to leave out buttons that would be refused. The service decides every request itself."""
    principal = console_session.signed_in_principal()
    return principal is not None and allowed(principal.role, action)


def page(name: str, status: int = 200, /, **context: Any) -> Response:
    """The console page ``name`` rendered with ``context`` (and the signed-in principal)."""
    context.setdefault("principal", console_session.signed_in_principal())
    return make_response(render_template(f"console/{name}", **context), status)


@bp.before_request
def _before() -> None:
    console_session.load_principal()
    console_session.check_csrf()


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {**console_session.template_globals(), "can": can}


@bp.errorhandler(CleanroomError)
def _error_page(err: CleanroomError) -> Response:
    """The same error the API would answer, as a page: status, code and the safe detail."""
    if isinstance(err, ServiceUnavailable):
        handle_cleanroom_error(err)  # logged under the request id, as the API does
        response = page("error.html", 503, title=err.title, code=err.code, detail=err.detail)
        response.headers["Retry-After"] = str(err.retry_after)
        return response
    if err.status >= 500:
        handle_cleanroom_error(err)  # logs it under the request id, as the API does
        return _failure_page(err.status, err.title)
    return page("error.html", err.status, title=err.title, code=err.code, detail=err.detail)


@bp.errorhandler(Exception)
def _unexpected_page(exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.code is not None and exc.code < 500:
        code = exc.name.lower().replace(" ", "_")
        return page("error.html", exc.code, title=exc.name, code=code, detail=exc.description)
    handle_unexpected(exc)  # logged under the request id; the page shows only the id
    return _failure_page(500, "Internal error")


def _failure_page(status: int, title: str) -> Response:
    detail = f"the server failed to handle this request (request id {request_id()})"
    return page("error.html", status, title=title, code="internal_error", detail=detail)
