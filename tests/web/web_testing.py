"""Helpers for the web tests: the one problem-shape check and token builders."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from werkzeug.test import TestResponse

from cleanroom.config import Settings

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(
    response: TestResponse, status: int, code: str, *, forbidden: tuple[str, ...] = ()
) -> dict[str, Any]:
    """THE shape check: RFC 9457 problem+json with our five members, consistent with the status."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.get_data(as_text=True))
    assert isinstance(body, dict)
    assert set(body) >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"https://cleanroom.dev/problems/{code}"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert response.headers.get("X-Request-ID")
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if status >= 500:
        text = response.get_data(as_text=True)
        for marker in ("Traceback", 'File "', "SELECT", "sqlite", "duckdb", *forbidden):
            assert marker not in text
    return body


def claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    """Valid claims for ``settings``; a change to None removes the claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "ana",
        "org": "acme",
        "role": "advertiser",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def hs256_token(settings: Settings, **changes: Any) -> str:
    return jwt.encode(claims(settings, **changes), settings.jwt_secret, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def raw_token(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token built by hand, as an attacker would (PyJWT refuses to build some of these)."""
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    if hmac_key is None:
        return signing_input + "."
    mac = hmac.new(hmac_key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64(mac)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
