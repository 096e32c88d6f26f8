"""Bearer tokens: minting development tokens and verifying every request's token.

The accepted algorithm is pinned by configuration, never by the token: HS256 with
``settings.jwt_secret``, or RS256/ES256 with the public keys of the JWKS file named by
``settings.jwt_public_keys`` or fetched from an identity provider (``jwt_jwks_url`` or OIDC
discovery from ``jwt_oidc_issuer``; see :mod:`cleanroom.services.jwks`). With public keys HS256 is
refused, so a public key can never double as an HMAC secret. The key is picked by the token's
``kid`` among the configured keys only; key material or key locations carried by the token
(``jwk``, ``jku``, ``x5u``, ``x5c``) are never used.

Which claims name the user, the organisation and the role is configured (``jwt_subject_claim``,
``jwt_org_claim``, ``jwt_role_claim``; by default ``sub``, ``org`` and ``role``); with
``jwt_role_map`` the role claim's value or values (e.g. a ``groups`` list) map to a role.
A token that does not verify is :class:`cleanroom.errors.InvalidToken` (401), whose message says
what to fix and never quotes the token's claims; a verified one whose groups map to no role (or to
several) is :class:`cleanroom.errors.RoleNotMapped` (403).

>>> from cleanroom.config import load_settings
>>> s = load_settings(env={}, config_file=None, data_dir="/tmp/cleanroom-doctest",
...                   secret_key="k", jwt_secret="a-doctest-secret-of-at-least-32-bytes")
>>> token = mint_token(s, org="acme", role="advertiser", sub="ana")
>>> verify_token(s, token)
Principal(sub='ana', org='acme', role='advertiser')
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from cleanroom.config import Settings
from cleanroom.errors import ConfigError, InvalidRequest, InvalidToken, RoleNotMapped
from cleanroom.services.jwks import (
    VerificationKey,
    check_provider_settings,
    file_keys,
    provider_for,
    uses_identity_provider,
)
from cleanroom.services.verified_tokens import VerifiedTokens
from cleanroom.types import ROLES, Principal

MAX_TOKEN_BYTES = 8 * 1024
MAX_IDENTITY_CHARS = 200
MIN_HS256_SECRET_BYTES = 32  # RFC 7518 section 3.2: an HS256 key at least as long as the hash
REQUIRED_CLAIMS = ("exp", "iss", "aud")  # and the subject, org and role claims (configured)
_TIME_CLAIMS = ("exp", "nbf", "iat")
# We implement no JWS extension, so a token marking one critical is refused (RFC 7515 4.1.11).
_REFUSED_HEADERS = ("crit", "b64")


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
    if uses_identity_provider(settings):
        raise ConfigError(
            "tokens come from the identity provider here; development tokens need an HS256 "
            "jwt_secret and no jwt_jwks_url or jwt_oidc_issuer"
        )
    secret = _hs256_secret(settings)
    role_value: Any = role
    if settings.jwt_role_map:  # the claim then carries groups that map to the role
        groups = [group for group, mapped in settings.jwt_role_map if mapped == role]
        if not groups:
            raise InvalidRequest(f"jwt_role_map maps nothing to the role {role}")
        role_value = groups[:1]
    issued = int(time.time()) if now is None else now
    claims = {
        settings.jwt_subject_claim: sub,
        settings.jwt_org_claim: org,
        settings.jwt_role_claim: role_value,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + ttl,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_token(settings: Settings, token: str) -> Principal:
    """The principal a bearer token speaks for, or :class:`InvalidToken`.

    A token verified before under the same settings and keys, and not expired since, is not
    verified again (:mod:`cleanroom.services.verified_tokens` says when that holds)."""
    if not token or len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
        raise InvalidToken(f"the bearer token must be 1 to {MAX_TOKEN_BYTES} bytes long")
    keys = _local_keys(settings)
    if keys is not None:
        kept = _VERIFIED.get(token, settings=settings, keys=keys, now=time.time())
        if kept is not None:
            return kept
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
            issuer=expected_issuer(settings),
            leeway=settings.jwt_leeway_seconds,
            options={
                "require": [*REQUIRED_CLAIMS, *_identity_claims(settings)],
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
    principal = _principal(settings, claims)
    if keys is not None:  # exp is a number here (required, checked above)
        expires_at = float(claims["exp"]) + settings.jwt_leeway_seconds
        _VERIFIED.put(token, principal, expires_at=expires_at, settings=settings, keys=keys)
    return principal


_VERIFIED = VerifiedTokens()


def _local_keys(settings: Settings) -> tuple[VerificationKey, ...] | None:
    """The keys a kept token must still be verified by: the HS256 secret or the JWKS file's
    keys; None (keep nothing) with an identity provider, whose keys rotate remotely, or when
    the configuration cannot verify anything (the normal path then says why)."""
    if uses_identity_provider(settings):
        return None
    try:
        return load_verification_keys(settings)
    except ConfigError:
        return None


def _identity_claims(settings: Settings) -> tuple[str, str, str]:
    return (settings.jwt_subject_claim, settings.jwt_org_claim, settings.jwt_role_claim)


def load_verification_keys(settings: Settings) -> tuple[VerificationKey, ...]:
    """The configured keys of a JWKS file or HS256 secret; :class:`ConfigError` when the
    configuration cannot verify anything. An identity provider's keys are fetched on first use
    (:mod:`cleanroom.services.jwks`), so this returns none for one.
    """
    if uses_identity_provider(settings):
        return ()
    if settings.jwt_public_keys:
        return file_keys(settings.jwt_public_keys)
    return (VerificationKey(kid=None, algorithm="HS256", key=_hs256_secret(settings)),)


def check_auth_settings(settings: Settings) -> None:
    """Called at start-up by the web app, so that a bad key configuration or claim mapping stops
    the server instead of rejecting every request. Never contacts the identity provider: the
    server starts while it is down, and requests then get ``identity_provider_unavailable``."""
    check_provider_settings(settings)
    load_verification_keys(settings)
    claims = (settings.jwt_subject_claim, settings.jwt_org_claim, settings.jwt_role_claim)
    if not all(c.strip() for c in claims) or len(set(claims)) != len(claims):
        raise ConfigError(
            "jwt_subject_claim, jwt_org_claim and jwt_role_claim must be three different claims"
        )
    unknown = sorted({role for _, role in settings.jwt_role_map if role not in ROLES})
    if unknown:
        raise ConfigError(
            f"jwt_role_map maps to unknown role(s) {', '.join(unknown)}; "
            f"roles are {', '.join(ROLES)}"
        )


def expected_issuer(settings: Settings) -> str:
    """The ``iss`` every token must carry: the OpenID Connect issuer when one is configured."""
    return settings.jwt_oidc_issuer or settings.jwt_issuer


def _hs256_secret(settings: Settings) -> bytes:
    secret = settings.jwt_secret.encode("utf-8")
    if len(secret) < MIN_HS256_SECRET_BYTES:
        raise ConfigError(
            f"jwt_secret must be at least {MIN_HS256_SECRET_BYTES} bytes for HS256 "
            "(set CLEANROOM_JWT_SECRET to a long random value)"
        )
    return secret


def _select_key(settings: Settings, header: dict[str, Any]) -> VerificationKey:
    kid = header.get("kid")
    if uses_identity_provider(settings):
        return provider_for(settings).key(kid)
    keys = load_verification_keys(settings)
    if keys[0].algorithm == "HS256":
        return keys[0]  # one shared secret: nothing to choose, a 'kid' is irrelevant
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


def _principal(settings: Settings, claims: dict[str, Any]) -> Principal:
    sub_claim, org_claim = settings.jwt_subject_claim, settings.jwt_org_claim
    _check_identity(sub_claim, claims[sub_claim])
    _check_identity(org_claim, claims[org_claim])
    return Principal(sub=claims[sub_claim], org=claims[org_claim], role=_role(settings, claims))


def _role(settings: Settings, claims: dict[str, Any]) -> str:
    """The role of the role claim: the claim itself is a role name, or (with ``jwt_role_map``)
    its value or values (a list such as ``groups``) map to exactly one role."""
    name, value = settings.jwt_role_claim, claims[settings.jwt_role_claim]
    if not settings.jwt_role_map:
        if not isinstance(value, str) or value not in ROLES:
            raise InvalidToken(f"the '{name}' claim must be one of {', '.join(ROLES)}")
        return value
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidToken(f"the '{name}' claim must be a string or a list of strings")
    table = dict(settings.jwt_role_map)
    roles = sorted({table[v] for v in values if v in table})
    if not roles:
        raise RoleNotMapped(
            f"no value of the token's '{name}' claim is mapped to a role; "
            "an operator adds the identity provider's group to jwt_role_map"
        )
    if len(roles) > 1:
        raise RoleNotMapped(
            f"the token's '{name}' claim maps to several roles ({', '.join(roles)}); "
            "an identity needs exactly one: change its groups or jwt_role_map"
        )
    return roles[0]
