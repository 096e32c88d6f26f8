"""Bearer-token verification: HS256 and RS256/ES256 (JWKS), and every way a token can be wrong."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask

from cleanroom.config import Settings
from cleanroom.errors import ConfigError, InvalidRequest, InvalidToken
from cleanroom.services.auth import mint_token, verify_token
from cleanroom.types import Principal
from tests.web.web_testing import assert_problem, bearer, claims, hs256_token, raw_token

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_jwk(private_key: Any, kid: str | None, **extra: Any) -> dict[str, Any]:
    algorithm = (
        jwt.algorithms.RSAAlgorithm
        if isinstance(private_key, rsa.RSAPrivateKey)
        else (jwt.algorithms.ECAlgorithm)
    )
    jwk: dict[str, Any] = algorithm.to_jwk(private_key.public_key(), as_dict=True)
    if kid is not None:
        jwk["kid"] = kid
    jwk.update(extra)
    return jwk


def write_jwks(tmp_path: Path, keys: list[dict[str, Any]], name: str = "jwks.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"keys": keys}), encoding="utf-8")
    return path


@pytest.fixture
def jwks_settings(settings: Settings, tmp_path: Path) -> Settings:
    """RS256 key 'rsa-1' and ES256 key 'ec-1'; HS256 is then not accepted."""
    path = write_jwks(tmp_path, [public_jwk(RSA_KEY, "rsa-1"), public_jwk(EC_KEY, "ec-1")])
    return settings.replace(jwt_public_keys=str(path), jwt_secret="")


def signed(settings: Settings, key: Any, algorithm: str, kid: str | None, **changes: Any) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims(settings, **changes), key, algorithm=algorithm, headers=headers)


def refused(settings: Settings, token: str, fragment: str = "") -> None:
    with pytest.raises(InvalidToken) as info:
        verify_token(settings, token)
    assert fragment in info.value.detail


# --- HS256 -----------------------------------------------------------------------------------


def test_hs256_round_trip(settings: Settings) -> None:
    token = mint_token(settings, org="acme", role="retailer_admin", sub="rita")
    assert verify_token(settings, token) == Principal(sub="rita", org="acme", role="retailer_admin")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_alg_none_is_refused(settings: Settings) -> None:
    token = raw_token({"alg": "none", "typ": "JWT"}, claims(settings), None)
    refused(settings, token, "signed with HS256")
    token = raw_token({"alg": "None"}, claims(settings), None)
    refused(settings, token)


def test_other_algorithms_are_refused(settings: Settings) -> None:
    hs512 = raw_token({"alg": "HS512"}, claims(settings), settings.jwt_secret.encode())
    refused(settings, hs512, "signed with HS256")
    refused(settings, signed(settings, RSA_KEY, "RS256", None), "signed with HS256")


def test_wrong_secret(settings: Settings) -> None:
    token = jwt.encode(claims(settings), "another-secret-that-is-long-enough-0123", "HS256")
    refused(settings, token, "signature")


def test_tampered_claims(settings: Settings) -> None:
    head, _payload, signature = hs256_token(settings).split(".")
    forged = raw_token({"alg": "HS256"}, claims(settings, role="retailer_admin"), b"x").split(".")
    refused(settings, f"{head}.{forged[1]}.{signature}", "signature")


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub", "org", "role"])
def test_missing_required_claim(settings: Settings, claim: str) -> None:
    refused(settings, hs256_token(settings, **{claim: None}), f"'{claim}'")


def test_expiry_and_leeway(settings: Settings) -> None:
    now = int(time.time())
    refused(settings, hs256_token(settings, exp=now - 3600), "expired")
    assert verify_token(settings, hs256_token(settings, exp=now - 5))  # within the 30 s leeway
    refused(settings, hs256_token(settings, exp="tomorrow"))
    refused(settings, hs256_token(settings, nbf=now + 3600), "not valid yet")
    refused(settings, hs256_token(settings, iat=now + 3600), "not valid yet")


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("kind", ["numeric string", "boolean"])
def test_time_claims_must_be_numbers(settings: Settings, claim: str, kind: str) -> None:
    # PyJWT reads "9999999999" as a number; RFC 7519's NumericDate is a JSON number.
    value: Any = str(int(time.time()) + 600) if kind == "numeric string" else True
    if claim != "exp":
        value = str(int(time.time()) - 60) if kind == "numeric string" else True
    # (True as exp is also read as 1, long expired: refused either way)
    fragment = "" if value is True and claim == "exp" else f"'{claim}' claim must be a number"
    refused(settings, hs256_token(settings, **{claim: value}), fragment)


def test_wrong_issuer_or_audience(settings: Settings) -> None:
    refused(settings, hs256_token(settings, iss="someone-else"), "issuer")
    refused(settings, hs256_token(settings, aud="another-api"), "audience")
    # strict_aud: a list, even one naming us, is not accepted
    refused(settings, hs256_token(settings, aud=[settings.jwt_audience, "x"]), "audience")


@pytest.mark.parametrize(
    "changes",
    [
        {"role": "superuser"},
        {"role": ["advertiser"]},
        {"org": ""},
        {"org": "   "},
        {"org": "x" * 201},
        {"org": 42},
        {"sub": {"name": "ana"}},
        {"sub": "line\nbreak"},
    ],
    ids=["role", "role-list", "org-empty", "org-blank", "org-long", "org-int", "sub-obj", "sub-nl"],
)
def test_bad_identity_claims(settings: Settings, changes: dict[str, Any]) -> None:
    refused(settings, hs256_token(settings, **changes))


def test_oversized_and_malformed_tokens(settings: Settings) -> None:
    refused(settings, hs256_token(settings, padding="x" * 9000), "8192")
    refused(settings, "", "8192")
    refused(settings, "not-a-jwt", "well-formed")
    refused(settings, "a.b.c", "well-formed")


def test_crit_header_is_refused(settings: Settings) -> None:
    token = jwt.encode(
        claims(settings), settings.jwt_secret, "HS256", headers={"crit": ["exp"], "exp": 1}
    )
    refused(settings, token)


def test_short_secret_fails_at_start_up(make_app: Callable[..., Flask], settings: Settings) -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        make_app(settings.replace(jwt_secret="short"))


def test_mint_token_refuses_bad_input(settings: Settings) -> None:
    with pytest.raises(InvalidRequest):
        mint_token(settings, org="acme", role="root", sub="x")
    with pytest.raises(InvalidRequest):
        mint_token(settings, org="", role="auditor", sub="x")
    with pytest.raises(InvalidRequest):
        mint_token(settings, org="acme", role="auditor", sub="x", ttl=0)


# --- RS256 / ES256 from a JWKS file ----------------------------------------------------------


def test_rs256_and_es256_by_kid(jwks_settings: Settings) -> None:
    rs = signed(jwks_settings, RSA_KEY, "RS256", "rsa-1")
    es = signed(jwks_settings, EC_KEY, "ES256", "ec-1")
    assert verify_token(jwks_settings, rs).org == "acme"
    assert verify_token(jwks_settings, es).role == "advertiser"


def test_kid_not_configured(jwks_settings: Settings) -> None:
    refused(jwks_settings, signed(jwks_settings, RSA_KEY, "RS256", "rsa-9"), "'kid'")
    refused(jwks_settings, signed(jwks_settings, RSA_KEY, "RS256", None), "no 'kid'")


def test_kid_of_another_algorithm(jwks_settings: Settings) -> None:
    refused(jwks_settings, signed(jwks_settings, RSA_KEY, "RS256", "ec-1"), "ES256")


def test_wrong_private_key(jwks_settings: Settings) -> None:
    refused(jwks_settings, signed(jwks_settings, OTHER_RSA_KEY, "RS256", "rsa-1"), "signature")


def test_hs_rs_confusion(jwks_settings: Settings) -> None:
    """An HS256 token keyed with the (public) RSA key must not verify against that key."""
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for kid in ("rsa-1", None):
        header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
        refused(jwks_settings, raw_token(header, claims(jwks_settings), pem))
    # and an HS256 token with the old shared secret is refused once keys are configured
    refused(jwks_settings, raw_token({"alg": "HS256", "kid": "rsa-1"}, claims(jwks_settings), b"s"))


def test_keys_carried_by_the_token_are_ignored(jwks_settings: Settings) -> None:
    attacker_jwk = public_jwk(OTHER_RSA_KEY, "rsa-1")
    token = jwt.encode(
        claims(jwks_settings),
        OTHER_RSA_KEY,
        "RS256",
        headers={"kid": "rsa-1", "jwk": attacker_jwk, "jku": "https://evil.example/jwks.json"},
    )
    refused(jwks_settings, token, "signature")


def test_single_key_without_kid(settings: Settings, tmp_path: Path) -> None:
    path = write_jwks(tmp_path, [public_jwk(EC_KEY, None)])
    single = settings.replace(jwt_public_keys=str(path), jwt_secret="")
    assert verify_token(single, signed(single, EC_KEY, "ES256", None)).sub == "ana"


def test_rotated_jwks_file_is_reread(settings: Settings, tmp_path: Path) -> None:
    path = write_jwks(tmp_path, [public_jwk(RSA_KEY, "old")])
    rotating = settings.replace(jwt_public_keys=str(path), jwt_secret="")
    refused(rotating, signed(rotating, EC_KEY, "ES256", "new"), "'kid'")
    path.write_text(json.dumps({"keys": [public_jwk(EC_KEY, "new"), public_jwk(RSA_KEY, "old")]}))
    assert verify_token(rotating, signed(rotating, EC_KEY, "ES256", "new")).org == "acme"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (None, "cannot read"),
        ([], "'keys' list"),
        ([{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}], "RSA key for RS256"),
        ([{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB", "d": "AQAB"}], "private key"),
        ("two-without-kid", "unique 'kid'"),
        ([{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "e"}], "P-256 EC key"),
        ([{"kty": "RSA", "alg": "RS512", "n": "AQAB", "e": "AQAB", "kid": "r"}], "RS256"),
    ],
    ids=["missing", "empty", "oct", "private", "no-kids", "p384", "rs512"],
)
def test_bad_jwks_fails_at_start_up(
    make_app: Callable[..., Flask], settings: Settings, tmp_path: Path, keys: Any, message: str
) -> None:
    if keys is None:
        path = tmp_path / "absent.json"
    elif keys == "two-without-kid":
        path = write_jwks(tmp_path, [public_jwk(RSA_KEY, None), public_jwk(EC_KEY, None)])
    else:
        path = write_jwks(tmp_path, keys)
    with pytest.raises(ConfigError, match=message):
        make_app(settings.replace(jwt_public_keys=str(path), jwt_secret=""))


# --- over HTTP -------------------------------------------------------------------------------


def test_whoami_with_a_valid_token(make_app: Callable[..., Flask], jwks_settings: Settings) -> None:
    client = make_app(jwks_settings).test_client()
    response = client.get(
        "/v1/whoami", headers=bearer(signed(jwks_settings, EC_KEY, "ES256", "ec-1"))
    )
    assert response.status_code == 200
    assert response.get_json() == {"sub": "ana", "org": "acme", "role": "advertiser"}


def test_every_refusal_is_a_401_problem(
    make_app: Callable[..., Flask], jwks_settings: Settings
) -> None:
    client = make_app(jwks_settings).test_client()
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tokens = [
        raw_token({"alg": "none"}, claims(jwks_settings), None),
        raw_token({"alg": "HS256", "kid": "rsa-1"}, claims(jwks_settings), pem),
        signed(jwks_settings, OTHER_RSA_KEY, "RS256", "rsa-1"),
        signed(jwks_settings, RSA_KEY, "RS256", "unknown"),
        signed(jwks_settings, RSA_KEY, "RS256", "rsa-1", exp=None),
        signed(jwks_settings, RSA_KEY, "RS256", "rsa-1", exp=int(time.time()) - 3600),
        signed(jwks_settings, RSA_KEY, "RS256", "rsa-1", iss="evil"),
        signed(jwks_settings, RSA_KEY, "RS256", "rsa-1", aud="other"),
        signed(jwks_settings, RSA_KEY, "RS256", "rsa-1", role="owner"),
        signed(jwks_settings, RSA_KEY, "RS256", "rsa-1", padding="p" * 9000),
    ]
    for token in tokens:
        body = assert_problem(client.get("/v1/whoami", headers=bearer(token)), 401, "invalid_token")
        assert "acme" not in body["detail"]


# --- verified tokens kept by the process (services.verified_tokens) ---------------------------


def test_a_kept_token_is_refused_once_its_key_is_rotated_away(
    settings: Settings, tmp_path: Path
) -> None:
    path = write_jwks(tmp_path, [public_jwk(RSA_KEY, "old")])
    rotating = settings.replace(jwt_public_keys=str(path), jwt_secret="")
    token = signed(rotating, RSA_KEY, "RS256", "old")
    assert verify_token(rotating, token).sub == verify_token(rotating, token).sub == "ana"
    write_jwks(tmp_path, [public_jwk(EC_KEY, "new")])
    refused(rotating, token, "'kid'")


def test_a_kept_token_still_expires(settings: Settings) -> None:
    strict = settings.replace(jwt_leeway_seconds=0)
    expires = int(time.time()) + 1
    token = hs256_token(strict, exp=expires)
    assert verify_token(strict, token).sub == "ana"
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    refused(strict, token, "expired")


def test_a_kept_token_is_not_reused_under_other_settings(settings: Settings) -> None:
    token = hs256_token(settings)
    assert verify_token(settings, token).sub == "ana"
    other = settings.replace(jwt_secret="another-secret-of-at-least-thirty-two-bytes")
    refused(other, token, "signature")
