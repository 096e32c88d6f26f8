"""Signing in with a bearer token, signing out, and the console's front door."""

from __future__ import annotations

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from cleanroom.errors import ConfigError, IdentityProviderUnavailable, InvalidToken, RoleNotMapped
from cleanroom.services.auth import MAX_TOKEN_BYTES
from cleanroom.web.console import session as console_session
from cleanroom.web.console.blueprint import bp, page


@bp.get("/sign-in")
def sign_in_form() -> Response:
    if console_session.signed_in_principal() is not None:
        return redirect(url_for("console.collaborations_list"))
    ended = console_session.ended_session()
    return page(
        "sign_in.html",
        next=console_session.safe_next(request.args.get("next")),
        error=f"Your session ended: {ended}." if ended else None,
    )


@bp.post("/sign-in")
def sign_in() -> Response:
    token = request.form.get("token", "")
    target = console_session.safe_next(request.form.get("next"))
    if not token.strip() or len(token) > MAX_TOKEN_BYTES:
        error = f"Paste a bearer token (at most {MAX_TOKEN_BYTES} bytes)."
        return page("sign_in.html", 400, next=target, error=error)
    try:
        console_session.sign_in(token)
    except (InvalidToken, RoleNotMapped, IdentityProviderUnavailable, ConfigError) as err:
        return page("sign_in.html", err.status, next=target, error=f"{err.detail}.")
    return redirect(target or url_for("console.collaborations_list"))


@bp.post("/sign-out")
def sign_out() -> Response:
    console_session.sign_out()
    return redirect(url_for("console.sign_in_form"))
