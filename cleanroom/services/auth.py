"""Bearer tokens: minting development tokens and verifying every request's token.

The accepted algorithm is pinned by configuration, never by the token: HS256 with
``settings.jwt_secret``, or RS256/ES256 with the public keys of the JWKS file named by
``settings.jwt_public_keys`` (then HS256 is refused, so a public key can never double as an HMAC
secret). In JWKS mode the key is picked by the token's ``kid`` among the configured keys only; key
material or key locations carried by the token (``jwk``, ``jku``, ``x5u``, ``x5c``) are never used.
Every failure is :class:`cleanroom.errors.InvalidToken`, whose message says what to fix and never
quotes the token's claims.

>>> from cleanroom.config import load_settings
>>> s = load_settings(env={}, config_file=None, data_dir="/tmp/cleanroom-doctest",
...                   secret_key="k", jwt_secret="a-doctest-secret-of-at-least-32-bytes")
>>> token = mint_token(s, org="acme", role="advertiser", sub="ana")
>>> verify_token(s, token)
Principal(sub='ana', org='acme', role='advertiser')
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from cleanroom.config import Settings
from cleanroom.errors import ConfigError, InvalidRequest, InvalidToken
from cleanroom.types import ROLES, Principal

MAX_TOKEN_BYTES = 8 * 1024
MAX_IDENTITY_CHARS = 200
MIN_HS256_SECRET_BYTES = 32  # RFC 7518 section 3.2: an HS256 key at least as long as the hash
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub", "org", "role")
_TIME_CLAIMS = ("exp", "nbf", "iat")
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
# We implement no JWS extension, so a token marking one critical is refused (RFC 7515 4.1.11).
_REFUSED_HEADERS = ("crit", "b64")


@dataclass(frozen=True)
class VerificationKey:
    """One configured key: its id, pinned algorithm and verification key object."""

    kid: str | None
    algorithm: str
    key: Any


def mint_token(
    settings: Settings,
    org: str,
    role: str,
    sub: str,
    ttl: int = 3600,
    now: int | None = None,
) -> str:
    """A token for ``sub`` acting for ``org`` as ``role``, HS256-signed with ``jwt_secret``.

    For development and tests (``cleanroom token``); production tokens come from an identity
    provider. Raises :class:`InvalidRequest` for bad claims and :class:`ConfigError` when no
    usable HS256 secret is configured.
    """
    for name, value in (("org", org), ("sub", sub)):
        if not _is_identity(value):
            raise InvalidRequest(
                f"{name} must be a printable string of 1 to {MAX_IDENTITY_CHARS} characters"
            )
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}")
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise InvalidRequest("ttl must be a positive number of seconds")
    secret = _hs256_secret(settings)
    issued = int(time.time()) if now is None else now
    claims = {
        "sub": sub,
        "org": org,
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + ttl,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_token(settings: Settings, token: str) -> Principal:
    """The principal a bearer token speaks for, or :class:`InvalidToken`."""
    if not token or len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
        raise InvalidToken(f"the bearer token must be 1 to {MAX_TOKEN_BYTES} bytes long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("the bearer token is not a well-formed JWT") from None
    for name in _REFUSED_HEADERS:
        if name in header:
            raise InvalidToken(f"the token's '{name}' header is not supported")
    key = _select_key(settings, header)
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={
                "require": list(REQUIRED_CLAIMS),
                "strict_aud": True,
                "enforce_minimum_key_length": True,
            },
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired; get a new one") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"the token lacks the required '{exc.claim}' claim") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("the token's audience ('aud') is not this API") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("the token's issuer ('iss') is not trusted") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidToken(f"the token must be signed with {key.algorithm}") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("the token's signature does not verify") from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken("the token is not valid yet ('nbf' or 'iat' in the future)") from None
    except jwt.PyJWTError:
        raise InvalidToken("the bearer token is not a valid JWT") from None
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        # PyJWT compares a numeric string ("9999999999") as a number; RFC 7519 says a number.
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidToken(f"the token's '{name}' claim must be a number (seconds since 1970)")
    return _principal(claims)


def load_verification_keys(settings: Settings) -> tuple[VerificationKey, ...]:
    """The configured keys; :class:`ConfigError` when the configuration cannot verify anything.

    Called at start-up by the web app so that a bad JWKS file or a short secret stops the server
    instead of rejecting every request.
    """
    if settings.jwt_public_keys:
        path = Path(settings.jwt_public_keys)
        try:
            stat = path.stat()
        except OSError:
            raise ConfigError(f"jwt_public_keys: cannot read JWKS file {path}") from None
        return _load_jwks(str(path), stat.st_mtime_ns, stat.st_size)
    return (VerificationKey(kid=None, algorithm="HS256", key=_hs256_secret(settings)),)


def _hs256_secret(settings: Settings) -> bytes:
    secret = settings.jwt_secret.encode("utf-8")
    if len(secret) < MIN_HS256_SECRET_BYTES:
        raise ConfigError(
            f"jwt_secret must be at least {MIN_HS256_SECRET_BYTES} bytes for HS256 "
            "(set CLEANROOM_JWT_SECRET to a long random value)"
        )
    return secret


_JWKS_CACHE: dict[tuple[str, int, int], tuple[VerificationKey, ...]] = {}


def _load_jwks(path: str, mtime_ns: int, size: int) -> tuple[VerificationKey, ...]:
    # Keyed by modification time and size so that a rotated JWKS file is picked up without a
    # restart, while an unchanged one is parsed once per process.
    cache_key = (path, mtime_ns, size)
    cached = _JWKS_CACHE.get(cache_key)
    if cached is not None:
        return cached
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"jwt_public_keys: {path} is not a readable JSON file") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"jwt_public_keys: {path} must be a JWKS object with a 'keys' list")
    keys = tuple(_jwk_to_key(entry, index, path) for index, entry in enumerate(entries))
    kids = [k.kid for k in keys]
    if len(keys) > 1 and (None in kids or len(set(kids)) != len(kids)):
        raise ConfigError(f"jwt_public_keys: with several keys in {path} each needs a unique 'kid'")
    _JWKS_CACHE.clear()
    _JWKS_CACHE[cache_key] = keys
    return keys


def _jwk_to_key(entry: Any, index: int, path: str) -> VerificationKey:
    where = f"jwt_public_keys: key {index} of {path}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} is not a JSON object")
    if "d" in entry:
        raise ConfigError(f"{where} is a private key; configure public keys only")
    kty, crv, declared = entry.get("kty"), entry.get("crv"), entry.get("alg")
    inferred = "RS256" if kty == "RSA" else "ES256" if (kty, crv) == ("EC", "P-256") else None
    algorithm = declared or inferred
    if algorithm not in ASYMMETRIC_ALGORITHMS or (declared and declared != inferred):
        raise ConfigError(f"{where} must be an RSA key for RS256 or a P-256 EC key for ES256")
    kid = entry.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        raise ConfigError(f"{where} has a 'kid' that is not a non-empty string")
    try:
        jwk = jwt.PyJWK.from_dict(entry, algorithm=algorithm)
    except jwt.PyJWTError:
        raise ConfigError(f"{where} is not a valid {algorithm} public key") from None
    return VerificationKey(kid=kid, algorithm=algorithm, key=jwk)


def _select_key(settings: Settings, header: dict[str, Any]) -> VerificationKey:
    keys = load_verification_keys(settings)
    if keys[0].algorithm == "HS256":
        return keys[0]  # one shared secret: nothing to choose, a 'kid' is irrelevant
    kid = header.get("kid")
    if kid is None:
        if len(keys) == 1:
            return keys[0]
        raise InvalidToken("the token has no 'kid' header; it is needed to choose the key")
    for key in keys:
        if key.kid is not None and isinstance(kid, str) and key.kid == kid:
            return key
    raise InvalidToken("the token's 'kid' names no configured key")


def _is_identity(value: Any) -> bool:
    return (
        isinstance(value, str)
        and bool(value.strip())
        and len(value) <= MAX_IDENTITY_CHARS
        and value.isprintable()
    )


def _check_identity(name: str, value: Any) -> None:
    if not _is_identity(value):
        raise InvalidToken(
            f"the '{name}' claim must be a printable string of 1 to {MAX_IDENTITY_CHARS} characters"
        )


def _principal(claims: dict[str, Any]) -> Principal:
    _check_identity("sub", claims["sub"])
    _check_identity("org", claims["org"])
    role = claims["role"]
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidToken(f"the 'role' claim must be one of {', '.join(ROLES)}")
    return Principal(sub=claims["sub"], org=claims["org"], role=role)
