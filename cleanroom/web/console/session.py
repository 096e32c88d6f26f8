"""The console's session: a bearer token kept in a signed, HttpOnly, SameSite cookie, and the
CSRF token every form carries.

Signing in verifies the pasted token exactly as the API verifies a bearer header
(:func:`cleanroom.services.auth.verify_token`) and keeps it in the session cookie; every console
request verifies it again, so an expired or revoked key ends the session at once. The cookie is
scoped to ``/console``, ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` in production mode or over
HTTPS. Each session holds a random CSRF token; every POST must echo it in the ``csrf_token`` form
field or it is refused with ``403 csrf_failed`` before the view runs.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Flask, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.wrappers import Response

from cleanroom.errors import CleanroomError, ConfigError, InvalidToken, RoleNotMapped
from cleanroom.services.auth import verify_token
from cleanroom.types import Principal
from cleanroom.web.state import current_settings

P = ParamSpec("P")
R = TypeVar("R")
CSRF_FIELD = "csrf_token"
_TOKEN_KEY, _CSRF_KEY, _ENDED_KEY = "token", "csrf", "ended"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE_NAME = "cleanroom_console"


class CsrfFailed(CleanroomError):
    """A console form without this session's CSRF token (stale page, or sent from elsewhere)."""

    status, code, title = 403, "csrf_failed", "Form refused"


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session under its own salt, ``Secure`` also on any HTTPS request."""

    salt = "cleanroom-console-session"

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def session_key(secret_key: str) -> bytes:
    """The cookie-signing key, derived from the server secret (never the secret itself).

    >>> len(session_key("k"))
    32
    """
    return hmac.new(secret_key.encode(), b"cleanroom console session v1", hashlib.sha256).digest()


def init_session(app: Flask, secret_key: str, production: bool) -> None:
    """Configure the cookie session of ``app`` for the console."""
    if secret_key:
        app.secret_key = session_key(secret_key)
    app.session_interface = ConsoleSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
    )


def csrf_token() -> str:
    """This session's CSRF token, created on first use (templates call it for every form)."""
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
    return token


def check_csrf() -> None:
    """Refuse a state-changing request whose form does not carry this session's token."""
    if request.method in _SAFE_METHODS:
        return
    expected = session.get(_CSRF_KEY)
    sent = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        raise CsrfFailed(
            "this form was not sent from the page this console served you (it may be stale): "
            "reload the page and try again"
        )


def load_principal() -> None:
    """Verify the session's token, if any, and remember the principal for this request."""
    token = session.get(_TOKEN_KEY)
    if not isinstance(token, str):
        return
    try:
        g.principal = verify_token(current_settings(), token)
    except (InvalidToken, RoleNotMapped) as err:
        session.pop(_TOKEN_KEY, None)
        session[_ENDED_KEY] = err.detail  # said once, on the sign-in page it redirects to


def sign_in(token: str) -> Principal:
    """Start a fresh session for the principal ``token`` speaks for (or :class:`InvalidToken`)."""
    if not current_settings().secret_key:
        raise ConfigError("the console needs a server secret key (CLEANROOM_SECRET_KEY)")
    principal = verify_token(current_settings(), token.strip())
    session.clear()  # a new session id: nothing of the signed-out session carries over
    session[_TOKEN_KEY] = token.strip()
    csrf_token()
    return principal


def ended_session() -> str | None:
    """Why the last session ended (its token expired or stopped verifying), said once."""
    reason = session.pop(_ENDED_KEY, None)
    return reason if isinstance(reason, str) else None


def sign_out() -> None:
    session.clear()


def signed_in_principal() -> Principal | None:
    principal = g.get("principal")
    return principal if isinstance(principal, Principal) else None


def safe_next(target: str | None) -> str | None:
    """A redirect target after sign-in, only when it is a path of this console.

    >>> safe_next("/console/c/1"), safe_next("//evil.example/console"), safe_next("https://x/")
    ('/console/c/1', None, None)
    """
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/console") or "\\" in target:
        return None
    return target


def signed_in(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Views that need a principal: without one, redirect to the sign-in page (and back)."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if signed_in_principal() is None:
            target = request.full_path if request.method == "GET" else None
            return redirect(url_for("console.sign_in_form", next=safe_next(target)))
        return view(*args, **kwargs)

    return guarded


def template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "csrf_field": CSRF_FIELD}
