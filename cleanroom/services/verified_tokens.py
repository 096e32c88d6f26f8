"""Bearer tokens this process has already verified, kept until they expire.

Verifying a token (base64, JSON, an HMAC or signature check, the claim checks) is a fixed cost on
every request, and a client sends the same token for its whole life. A verified token is kept
with the principal it speaks for, the settings object it was verified under and the keys that
verified it; a later request with the same token gets the same principal without the work only
while all of these hold:

- the token has not expired: ``now < exp + jwt_leeway_seconds``, the test PyJWT applies, so a
  cached token stops working at the very second a fresh verification would refuse it (``nbf`` and
  ``iat`` only ever become more acceptable as time passes, so they need no re-check);
- the settings object is the same one (another app's configuration never reuses an entry);
- the configured keys are still the ones that verified it: a rewritten JWKS file
  (``jwt_public_keys``) drops every entry of the old keys.

Tokens of an identity provider (``jwt_jwks_url``, ``jwt_oidc_issuer``) are never kept: its keys
can be rotated away remotely at any moment. Refused tokens are never kept, and neither are tokens
without a numeric ``exp``.

>>> from cleanroom.types import Principal
>>> cache = VerifiedTokens(max_entries=2)
>>> who, keys = Principal("ana", "acme", "advertiser"), ("k",)
>>> cache.put("t1", who, expires_at=100.0, settings=None, keys=keys)
>>> cache.get("t1", settings=None, keys=keys, now=99.0) == who
True
>>> cache.get("t1", settings=None, keys=keys, now=100.0) is None  # expired: gone
True
>>> cache.put("t2", who, expires_at=100.0, settings=None, keys=keys)
>>> cache.get("t2", settings=None, keys=("rotated",), now=1.0) is None
True
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

from cleanroom.types import Principal

MAX_VERIFIED_TOKENS = 10_000  # per process; all are forgotten when full, never grown past


class VerifiedTokens:
    """A bounded, thread-safe map of token -> principal with each entry's conditions."""

    def __init__(self, max_entries: int = MAX_VERIFIED_TOKENS) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal, object, Hashable]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, *, settings: object, keys: Hashable, now: float) -> Principal | None:
        """The principal of a kept token, or None (unknown, expired or verified otherwise)."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        expires_at, principal, kept_settings, kept_keys = entry
        if now >= expires_at or kept_settings is not settings or kept_keys != keys:
            with self._lock:
                self._entries.pop(token, None)
            return None
        return principal

    def put(
        self, token: str, principal: Principal, *, expires_at: float, settings: Any, keys: Hashable
    ) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[token] = (expires_at, principal, settings, keys)
