"""Identity from an identity provider: keys from a JWKS URL or OpenID Connect discovery, cached
and rotated, and configurable claims (a groups claim mapped to roles, a tenant claim as org).

The provider is a real HTTP server on a local port (the one true external boundary), serving a
discovery document and a JWKS of RSA keys generated here; it counts the requests it answers.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from cleanroom.config import Settings, load_settings
from cleanroom.errors import (
    ConfigError,
    IdentityProviderUnavailable,
    InvalidToken,
    RoleNotMapped,
)
from cleanroom.services.auth import mint_token, verify_token
from cleanroom.types import Principal
from tests.web.console_world import csrf_of
from tests.web.test_bearer_tokens import public_jwk
from tests.web.web_testing import assert_problem, bearer, claims

KEY_1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
GROUPS = {"cr-retailer-admins": "retailer_admin", "cr-advertisers": "advertiser"}


@dataclass
class Provider:
    """What the local identity provider serves, and how often it was asked."""

    issuer: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    discovery_issuer: str | None = None  # None: the issuer itself
    failing: bool = False  # answer every request with a 500
    hits: Counter[str] = field(default_factory=Counter)
    server: ThreadingHTTPServer | None = None

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/keys"

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


def _handler(provider: Provider, prefix: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if provider.failing:
                provider.hits["failed"] += 1
                self.send_error(500)
                return
            if self.path == prefix + "/moved":
                self.send_response(302)
                self.send_header("Location", provider.jwks_url)
                self.end_headers()
                return
            if self.path == prefix + "/.well-known/openid-configuration":
                provider.hits["discovery"] += 1
                issuer = provider.discovery_issuer or provider.issuer
                body: Any = {"issuer": issuer, "jwks_uri": provider.jwks_url}
            elif self.path == prefix + "/keys":
                provider.hits["jwks"] += 1
                body = {"keys": provider.keys}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def provider() -> Iterator[Provider]:
    # A fresh path per test: the process-wide key cache is per provider URL.
    prefix = "/realms/" + secrets.token_hex(6)
    found = Provider(keys=[public_jwk(KEY_1, "k1", use="sig", alg="RS256")])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found, prefix))
    found.server = server
    found.issuer = f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    if server.socket.fileno() != -1:
        found.stop()
    thread.join()


@pytest.fixture
def idp_settings(settings: Settings, provider: Provider) -> Settings:
    """OpenID Connect discovery from the local provider; no HS256 secret."""
    return settings.replace(jwt_oidc_issuer=provider.issuer, jwt_secret="")


def token(settings: Settings, key: Any = KEY_1, kid: str | None = "k1", **changes: Any) -> str:
    payload = claims(settings.replace(jwt_issuer=settings.jwt_oidc_issuer), **changes)
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(payload, key, algorithm="RS256", headers=headers)


ANA = Principal(sub="ana", org="acme", role="advertiser")


def test_discovery_and_a_good_token(idp_settings: Settings, provider: Provider) -> None:
    assert verify_token(idp_settings, token(idp_settings)) == ANA
    assert verify_token(idp_settings, token(idp_settings, sub="bo")).sub == "bo"
    assert provider.hits == {"discovery": 1, "jwks": 1}  # cached for jwt_jwks_cache_seconds


def test_jwks_url_without_discovery(settings: Settings, provider: Provider) -> None:
    direct = settings.replace(jwt_jwks_url=provider.jwks_url, jwt_secret="")
    payload = claims(settings)  # iss stays jwt_issuer
    assert verify_token(direct, jwt.encode(payload, KEY_1, "RS256", headers={"kid": "k1"})) == ANA
    assert provider.hits == {"jwks": 1}


def test_token_of_another_issuer_or_key(idp_settings: Settings) -> None:
    with pytest.raises(InvalidToken, match="issuer"):
        verify_token(idp_settings, token(idp_settings, iss="cleanroom"))
    with pytest.raises(InvalidToken, match="signature"):
        verify_token(idp_settings, token(idp_settings, key=KEY_2))
    hs256 = jwt.encode(claims(idp_settings), "x" * 40, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(InvalidToken, match="RS256"):
        verify_token(idp_settings, hs256)


def test_key_rotation(idp_settings: Settings, provider: Provider) -> None:
    assert verify_token(idp_settings, token(idp_settings)) == ANA
    provider.keys = [public_jwk(KEY_2, "k2")]  # the provider rotates: k1 is gone
    assert verify_token(idp_settings, token(idp_settings, key=KEY_2, kid="k2")) == ANA
    assert provider.hits["jwks"] == 2  # the unknown kid made the keys be fetched once more
    with pytest.raises(InvalidToken, match="'kid' names no key"):
        verify_token(idp_settings, token(idp_settings))
    assert provider.hits["jwks"] == 2  # and not again within jwt_jwks_refetch_seconds


def test_unknown_kid_is_refused_and_refetches_are_rate_limited(
    idp_settings: Settings, provider: Provider
) -> None:
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        with pytest.raises(InvalidToken, match="'kid' names no key of the identity provider"):
            verify_token(idp_settings, token(idp_settings, kid=kid))
    assert provider.hits["jwks"] == 2  # the first fetch, and one early refetch


def test_unknown_kid_over_http_is_a_401(
    make_app: Callable[..., Flask], idp_settings: Settings
) -> None:
    client = make_app(idp_settings).test_client()
    response = client.get("/v1/whoami", headers=bearer(token(idp_settings, kid="nope")))
    assert_problem(response, 401, "invalid_token")


def test_cache_lifetime(idp_settings: Settings, provider: Provider) -> None:
    uncached = idp_settings.replace(jwt_jwks_cache_seconds=0)
    for _ in range(3):
        assert verify_token(uncached, token(uncached)) == ANA
    assert provider.hits["jwks"] == 3


def test_keys_a_provider_publishes_that_cannot_sign_are_skipped(
    idp_settings: Settings, provider: Provider
) -> None:
    provider.keys = [
        public_jwk(KEY_2, "enc-1", use="enc", alg="RSA-OAEP"),
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMl"},
        public_jwk(KEY_1, "k1"),
    ]
    assert verify_token(idp_settings, token(idp_settings)) == ANA
    with pytest.raises(InvalidToken, match="'kid' names no key"):
        verify_token(idp_settings, token(idp_settings, key=KEY_2, kid="enc-1"))


def test_groups_claim_maps_to_a_role(
    idp_settings: Settings, make_app: Callable[..., Flask]
) -> None:
    mapped = idp_settings.replace(
        jwt_role_claim="groups",
        jwt_role_map=tuple(GROUPS.items()),
        jwt_org_claim="tenant",
        jwt_subject_claim="email",
    )
    admin = token(
        mapped,
        role=None,
        org=None,
        sub=None,
        groups=["staff", "cr-retailer-admins"],
        tenant="shopco",
        email="rita@shopco.example",
    )
    rita = Principal("rita@shopco.example", "shopco", "retailer_admin")
    assert verify_token(mapped, admin) == rita
    response = make_app(mapped).test_client().get("/v1/whoami", headers=bearer(admin))
    assert response.status_code == 200
    assert response.get_json()["role"] == "retailer_admin"
    lone = token(mapped, groups="cr-advertisers", tenant="acme", email="ana")
    assert verify_token(mapped, lone).role == "advertiser"
    with pytest.raises(InvalidToken, match="'tenant' claim"):
        verify_token(mapped, token(mapped, groups=["cr-advertisers"], email="ana"))


@pytest.mark.parametrize(
    ("groups", "fragment"),
    [
        (["staff"], "no value of the token's 'groups' claim is mapped"),
        ([], "no value of the token's 'groups' claim is mapped"),
        (["cr-retailer-admins", "cr-advertisers"], "maps to several roles"),
    ],
)
def test_no_single_mapped_role_is_a_403(
    idp_settings: Settings,
    make_app: Callable[..., Flask],
    groups: list[str],
    fragment: str,
) -> None:
    mapped = idp_settings.replace(jwt_role_claim="groups", jwt_role_map=tuple(GROUPS.items()))
    unmapped = token(mapped, role=None, groups=groups)
    with pytest.raises(RoleNotMapped, match=fragment):
        verify_token(mapped, unmapped)
    response = make_app(mapped).test_client().get("/v1/whoami", headers=bearer(unmapped))
    body = assert_problem(response, 403, "role_not_mapped")
    assert "staff" not in body["detail"]


def test_console_sign_in_says_why_a_token_is_refused(
    idp_settings: Settings, provider: Provider, make_app: Callable[..., Flask]
) -> None:
    mapped = idp_settings.replace(jwt_role_claim="groups", jwt_role_map=tuple(GROUPS.items()))
    client = make_app(mapped).test_client()
    csrf = csrf_of(client.get("/console/sign-in"))
    unmapped = token(mapped, groups=["staff"])
    refused = client.post("/console/sign-in", data={"token": unmapped, "csrf_token": csrf})
    assert refused.status_code == 403
    assert "is mapped to a role" in refused.get_data(as_text=True)
    provider.stop()
    fresh = make_app(mapped.replace(jwt_jwks_timeout_seconds=2)).test_client()  # no keys cached
    csrf = csrf_of(fresh.get("/console/sign-in"))
    down = fresh.post("/console/sign-in", data={"token": unmapped, "csrf_token": csrf})
    assert down.status_code == 503
    assert "could not be fetched" in down.get_data(as_text=True)


def test_a_role_name_is_no_group_once_groups_are_mapped(idp_settings: Settings) -> None:
    mapped = idp_settings.replace(jwt_role_map=tuple(GROUPS.items()))
    with pytest.raises(RoleNotMapped):
        verify_token(mapped, token(mapped))  # role: "advertiser" is not a mapped group
    with pytest.raises(InvalidToken, match="string or a list of strings"):
        verify_token(mapped, token(mapped, role=[1]))


def test_provider_down_is_a_503(
    make_app: Callable[..., Flask], idp_settings: Settings, provider: Provider
) -> None:
    provider.stop()
    app = make_app(idp_settings)  # start-up does not need the provider
    with pytest.raises(IdentityProviderUnavailable, match="could not be fetched"):
        verify_token(idp_settings, token(idp_settings))
    response = app.test_client().get("/v1/whoami", headers=bearer(token(idp_settings)))
    body = assert_problem(response, 503, "identity_provider_unavailable")
    assert "127.0.0.1" not in body["detail"]


def test_a_failing_provider_is_asked_again_only_after_the_refetch_period(
    idp_settings: Settings, provider: Provider
) -> None:
    provider.failing = True
    for _ in range(3):
        with pytest.raises(IdentityProviderUnavailable):
            verify_token(idp_settings, token(idp_settings))
    assert provider.hits["failed"] == 1  # the other requests did not wait for the provider
    provider.failing = False
    eager = idp_settings.replace(jwt_jwks_refetch_seconds=0)
    provider.failing = True
    with pytest.raises(IdentityProviderUnavailable):
        verify_token(eager, token(eager))
    provider.failing = False
    assert verify_token(eager, token(eager)) == ANA  # back: the next request fetches the keys


def test_redirects_are_not_followed(settings: Settings, provider: Provider) -> None:
    moved = settings.replace(jwt_jwks_url=provider.issuer + "/moved", jwt_secret="")
    with pytest.raises(IdentityProviderUnavailable, match="could not be fetched"):
        verify_token(moved, jwt.encode(claims(settings), KEY_1, "RS256", headers={"kid": "k1"}))
    assert provider.hits["jwks"] == 0


def test_production_needs_an_https_jwks_uri(idp_settings: Settings) -> None:
    production = idp_settings.replace(mode="production")  # as if discovery were over https
    with pytest.raises(IdentityProviderUnavailable, match="no usable 'jwks_uri'"):
        verify_token(production, token(production))


def test_production_with_a_provider_needs_no_jwt_secret(tmp_path: Any) -> None:
    env = {
        "CLEANROOM_MODE": "production",
        "CLEANROOM_DATA_DIR": str(tmp_path),
        "CLEANROOM_JWT_OIDC_ISSUER": "https://idp.example/realms/r",
        "CLEANROOM_SECRET_KEY": "s" * 32,
    }
    assert load_settings(env=env, config_file=None).jwt_secret == ""
    with pytest.raises(ConfigError, match="needs a secret_key of at least 32 bytes"):
        load_settings(env={**env, "CLEANROOM_SECRET_KEY": "s" * 31}, config_file=None)


def test_keys_fetched_before_outlive_an_outage(idp_settings: Settings, provider: Provider) -> None:
    uncached = idp_settings.replace(jwt_jwks_cache_seconds=0)
    assert verify_token(uncached, token(uncached)) == ANA
    provider.stop()
    assert verify_token(uncached, token(uncached)) == ANA  # the provider is down: k1 still works
    with pytest.raises(IdentityProviderUnavailable):
        verify_token(uncached, token(uncached, key=KEY_2, kid="k2"))  # a new kid: cannot tell


def test_discovery_naming_another_issuer(idp_settings: Settings, provider: Provider) -> None:
    provider.discovery_issuer = "https://evil.example"
    with pytest.raises(IdentityProviderUnavailable, match="names another issuer"):
        verify_token(idp_settings, token(idp_settings))


def test_provider_without_usable_keys(idp_settings: Settings, provider: Provider) -> None:
    provider.keys = [public_jwk(KEY_1, "enc", use="enc")]
    with pytest.raises(IdentityProviderUnavailable, match="no RS256 or ES256 signing key"):
        verify_token(idp_settings, token(idp_settings))


def test_development_tokens_are_not_minted_for_a_provider(idp_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="tokens come from the identity provider"):
        mint_token(idp_settings, org="acme", role="advertiser", sub="ana")


def test_development_tokens_follow_the_claim_mapping(settings: Settings) -> None:
    mapped = settings.replace(
        jwt_role_claim="groups", jwt_role_map=tuple(GROUPS.items()), jwt_org_claim="tenant"
    )
    minted = mint_token(mapped, org="acme", role="advertiser", sub="ana")
    assert jwt.decode(minted, options={"verify_signature": False})["groups"] == ["cr-advertisers"]
    assert verify_token(mapped, minted) == ANA


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"jwt_oidc_issuer": "ftp://idp.example"}, "jwt_oidc_issuer must be an http"),
        ({"jwt_jwks_url": "not a url"}, "jwt_jwks_url must be an http"),
        ({"jwt_oidc_issuer": "http://idp.example", "mode": "production"}, "https URL in prod"),
        ({"jwt_oidc_issuer": "https://idp.example", "jwt_issuer": "x"}, "jwt_issuer differs"),
        ({"jwt_jwks_url": "https://idp.example/k", "jwt_jwks_timeout_seconds": 0}, "timeout"),
        ({"jwt_jwks_url": "https://idp.example/k", "jwt_jwks_cache_seconds": -1}, ">= 0"),
        ({"jwt_role_map": (("admins", "owner"),)}, "unknown role\\(s\\) owner"),
        ({"jwt_org_claim": "sub"}, "three different claims"),
    ],
)
def test_bad_provider_settings_stop_start_up(
    make_app: Callable[..., Flask], settings: Settings, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_app(settings.replace(**changes))


def test_provider_settings_from_toml_and_environment(tmp_path: Any) -> None:
    config = tmp_path / "cleanroom.toml"
    config.write_text(
        'jwt_oidc_issuer = "https://idp.example/realms/r"\njwt_role_claim = "groups"\n'
        'jwt_role_map = {"cr-retailer-admins" = "retailer_admin", "cr-ads" = "advertiser"}\n',
        encoding="utf-8",
    )
    base = {"CLEANROOM_DATA_DIR": str(tmp_path), "CLEANROOM_SECRET_KEY": "k"}
    loaded = load_settings(env=base, config_file=config)
    assert dict(loaded.jwt_role_map) == {
        "cr-ads": "advertiser",
        "cr-retailer-admins": "retailer_admin",
    }
    assert loaded.jwt_role_map[0][0] == "cr-ads"  # sorted: one spelling per table
    assert loaded.jwt_secret == ""  # keys come from the provider: no development secret
    env = {**base, "CLEANROOM_JWT_ROLE_MAP": '{"g": "auditor"}'}
    assert load_settings(env=env, config_file=config).jwt_role_map == (("g", "auditor"),)
    with pytest.raises(ConfigError, match="jwt_role_map' must be a JSON object"):
        load_settings(env={**base, "CLEANROOM_JWT_ROLE_MAP": "g=auditor"}, config_file=config)
    with pytest.raises(ConfigError, match="must be a table of non-empty names"):
        load_settings(env={**base, "CLEANROOM_JWT_ROLE_MAP": '{"g": 1}'}, config_file=config)
    with pytest.raises(ConfigError, match="set only one of jwt_public_keys, jwt_oidc_issuer"):
        load_settings(env={**base, "CLEANROOM_JWT_PUBLIC_KEYS": "k.json"}, config_file=config)
