"""Key derivation: HKDF-SHA256 per RFC 5869 and HMAC-SHA256 pids."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from cleanroom.errors import ConfigError, InvalidRequest
from cleanroom.ingest.keys import PID_INFO, collaboration_key, hmac_pads, pid_for_digest


def reference_hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 extract-then-expand with the standard library, independent of `cryptography`."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def test_reference_hkdf_matches_rfc5869_test_case_1() -> None:
    # RFC 5869, Appendix A.1 (Basic test case with SHA-256).
    okm = reference_hkdf(b"\x0b" * 22, bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_collaboration_key_is_hkdf_with_collaboration_salt() -> None:
    key = collaboration_key("server-secret", "collab-1")
    assert key == reference_hkdf(b"server-secret", b"collab-1", PID_INFO, 32)
    assert collaboration_key(b"server-secret", "collab-1") == key
    assert collaboration_key("server-secret", "collab-2") != key
    assert collaboration_key("other-secret", "collab-1") != key


def test_pid_is_hmac_sha256_and_sql_pads_agree() -> None:
    key = collaboration_key("s", "c")
    d = hashlib.sha256(b"user@example.com").digest()
    assert pid_for_digest(key, d) == hmac.new(key, d, hashlib.sha256).digest()
    ipad, opad = hmac_pads(key)
    inner = hashlib.sha256(ipad + d).digest()
    assert hashlib.sha256(opad + inner).digest() == pid_for_digest(key, d)


def test_bad_key_inputs_are_refused() -> None:
    with pytest.raises(ConfigError):
        collaboration_key("", "c")
    with pytest.raises(InvalidRequest):
        collaboration_key("s", "")
    with pytest.raises(InvalidRequest):
        pid_for_digest(b"k" * 32, b"short")
