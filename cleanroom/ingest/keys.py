"""Collaboration-scoped identifier keys (docs/privacy.md).

``K_collab = HKDF-SHA256(server secret, salt = collaboration id, info = "cleanroom pid v1")`` and
``pid = HMAC-SHA256(K_collab, digest bytes)``. The same digest in two collaborations gives
unlinkable pids; without the server secret a pid cannot be recomputed from an email.

HKDF comes from ``cryptography`` (already a dependency through ``pyjwt[crypto]``): a maintained,
reviewed implementation beats a hand-rolled one for key derivation. The tests cross-check it
against an independent RFC 5869 extract-and-expand written with the standard library.

>>> key = collaboration_key("server-secret", "collab-1")
>>> len(key), key == collaboration_key(b"server-secret", "collab-1")
(32, True)
>>> key == collaboration_key("server-secret", "collab-2")
False
>>> len(pid_for_digest(key, bytes(32)))
32
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cleanroom.errors import ConfigError, InvalidRequest

PID_INFO = b"cleanroom pid v1"
PID_BYTES = 32
DIGEST_BYTES = 32
_SHA256_BLOCK = 64


def collaboration_key(server_secret: str | bytes, collaboration_id: str) -> bytes:
    """The 32-byte HMAC key for one collaboration's pids."""
    secret = server_secret.encode() if isinstance(server_secret, str) else bytes(server_secret)
    if not secret:
        raise ConfigError("the server secret key is empty; set CLEANROOM_SECRET_KEY")
    if not isinstance(collaboration_id, str) or not collaboration_id:
        raise InvalidRequest("a collaboration id is needed to derive identifier keys")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=PID_BYTES,
        salt=collaboration_id.encode(),
        info=PID_INFO,
    )
    return hkdf.derive(secret)


def pid_for_digest(key: bytes, digest: bytes) -> bytes:
    """``HMAC-SHA256(key, digest)`` for one 32-byte SHA-256 digest (single values and tests)."""
    if len(digest) != DIGEST_BYTES:
        raise InvalidRequest("an identifier digest must be 32 bytes (a SHA-256 value)")
    return hmac.new(key, digest, hashlib.sha256).digest()


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of HMAC-SHA256 (RFC 2104), for HMAC written in SQL.

    ``HMAC(k, m) = H(opad_key || H(ipad_key || m))``; the vectorized re-keying in DuckDB uses
    these two 64-byte blocks as query parameters.

    >>> ipad, opad = hmac_pads(b"k" * 32)
    >>> d = bytes(32)
    >>> outer = hashlib.sha256(opad + hashlib.sha256(ipad + d).digest()).digest()
    >>> outer == pid_for_digest(b"k" * 32, d)
    True
    """
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    block = key.ljust(_SHA256_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)
