"""Where verification keys come from: an HS256 secret, a JWKS file, or an identity provider.

An identity provider's keys are fetched from ``settings.jwt_jwks_url``, or from the ``jwks_uri``
of the OpenID Connect discovery document of ``settings.jwt_oidc_issuer``
(``{issuer}/.well-known/openid-configuration``, whose ``issuer`` must equal the configured one).
Fetched keys are used for ``jwt_jwks_cache_seconds``; a token whose ``kid`` is not among them
makes the keys be fetched again at once (key rotation), at most once per
``jwt_jwks_refetch_seconds``, so that tokens with made-up ``kid`` values cannot hammer the
provider. When a fetch fails, keys fetched before stay in use (and the fetch is retried after
``jwt_jwks_refetch_seconds``); with none, the request is refused with
:class:`~cleanroom.errors.IdentityProviderUnavailable` (503), never a 500, and so is every request
for the next ``jwt_jwks_refetch_seconds`` without contacting the provider again. Redirects are
not followed, and in production mode every URL (the discovered ``jwks_uri`` too) must be https.

Only RSA keys (RS256) and P-256 EC keys (ES256) are used. A file's keys must all be usable (a bad
file is a configuration error); a provider's keys that are not (encryption keys, other key types,
anything with private parts) are skipped, as providers publish such keys next to signing ones.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

from cleanroom.config import SETTINGS, Settings
from cleanroom.errors import ConfigError, IdentityProviderUnavailable, InvalidToken

ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
MAX_DOCUMENT_BYTES = 1024 * 1024  # a JWKS or discovery document is a few KiB
DISCOVERY_PATH = "/.well-known/openid-configuration"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerificationKey:
    """One configured key: its id, pinned algorithm and verification key object."""

    kid: str | None
    algorithm: str
    key: Any


def uses_identity_provider(settings: Settings) -> bool:
    """Are keys fetched over HTTP (a JWKS URL or OIDC discovery)?"""
    return bool(settings.jwt_jwks_url or settings.jwt_oidc_issuer)


def check_provider_settings(settings: Settings) -> None:
    """:class:`ConfigError` for provider settings that cannot work (checked at start-up)."""
    for name in ("jwt_jwks_url", "jwt_oidc_issuer"):
        url = getattr(settings, name)
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{name} must be an http(s) URL")
        if settings.mode == "production" and parts.scheme != "https":
            raise ConfigError(f"{name} must be an https URL in production mode")
    issuer = settings.jwt_oidc_issuer
    default_issuer = next(s.default for s in SETTINGS if s.name == "jwt_issuer")
    if issuer and settings.jwt_issuer not in (default_issuer, issuer):
        raise ConfigError(
            "jwt_issuer differs from jwt_oidc_issuer; leave jwt_issuer unset: tokens' 'iss' "
            "must be the OpenID Connect issuer"
        )
    if settings.jwt_jwks_cache_seconds < 0 or settings.jwt_jwks_refetch_seconds < 0:
        raise ConfigError("jwt_jwks_cache_seconds and jwt_jwks_refetch_seconds must be >= 0")
    if settings.jwt_jwks_timeout_seconds < 1:
        raise ConfigError("jwt_jwks_timeout_seconds must be at least 1")


# -- JWKS documents ---------------------------------------------------------------------------


def jwk_to_key(entry: Any, where: str) -> VerificationKey:
    """One JWK as a :class:`VerificationKey`, or :class:`ConfigError` saying why not."""
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


def _entries(document: Any) -> list[Any] | None:
    entries = document.get("keys") if isinstance(document, dict) else None
    return entries if isinstance(entries, list) and entries else None


def _unique_kids(keys: tuple[VerificationKey, ...]) -> bool:
    kids = [k.kid for k in keys]
    return len(keys) <= 1 or (None not in kids and len(set(kids)) == len(kids))


_FILE_CACHE: dict[tuple[str, int, int], tuple[VerificationKey, ...]] = {}


def file_keys(path_text: str) -> tuple[VerificationKey, ...]:
    """The keys of a JWKS file, parsed once per modification (so a rewritten file is picked up
    without a restart); :class:`ConfigError` when it cannot verify anything."""
    path = Path(path_text)
    try:
        stat = path.stat()
    except OSError:
        raise ConfigError(f"jwt_public_keys: cannot read JWKS file {path}") from None
    cache_key = (str(path), stat.st_mtime_ns, stat.st_size)
    cached = _FILE_CACHE.get(cache_key)
    if cached is not None:
        return cached
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"jwt_public_keys: {path} is not a readable JSON file") from None
    entries = _entries(document)
    if entries is None:
        raise ConfigError(f"jwt_public_keys: {path} must be a JWKS object with a 'keys' list")
    keys = tuple(
        jwk_to_key(entry, f"jwt_public_keys: key {index} of {path}")
        for index, entry in enumerate(entries)
    )
    if not _unique_kids(keys):
        raise ConfigError(f"jwt_public_keys: with several keys in {path} each needs a unique 'kid'")
    _FILE_CACHE.clear()
    _FILE_CACHE[cache_key] = keys
    return keys


def provider_keys(document: Any) -> tuple[VerificationKey, ...]:
    """The usable signing keys of a provider's JWKS; unusable entries are skipped."""
    entries = _entries(document)
    if entries is None:
        raise IdentityProviderUnavailable(
            "the identity provider's JWKS has no 'keys' list; retry later or check jwt_jwks_url"
        )
    keys: list[VerificationKey] = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("use", "sig") != "sig":
            continue
        try:
            keys.append(jwk_to_key(entry, "a provider key"))
        except ConfigError:
            continue
    usable = tuple(k for k in keys if k.kid is not None) if len(keys) > 1 else tuple(keys)
    if not usable:
        raise IdentityProviderUnavailable(
            "the identity provider publishes no RS256 or ES256 signing key"
        )
    return usable


# -- fetching from an identity provider --------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is refused (an HTTP error), so an https URL cannot be sent elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _fetch_json(url: str, timeout: float, what: str) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError as exc:
        _log.warning("fetching the identity provider's %s failed: HTTP %s", what, exc.code)
        raise IdentityProviderUnavailable(
            f"the identity provider's {what} could not be fetched; retry later"
        ) from None
    except (OSError, ValueError) as exc:  # URLError, timeouts and refused connections
        _log.warning("fetching the identity provider's %s failed: %s", what, type(exc).__name__)
        raise IdentityProviderUnavailable(
            f"the identity provider's {what} could not be fetched; retry later"
        ) from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise IdentityProviderUnavailable(f"the identity provider's {what} is too large")
    try:
        return json.loads(body)
    except ValueError:
        raise IdentityProviderUnavailable(
            f"the identity provider's {what} is not JSON; retry later"
        ) from None


def discover_jwks_uri(issuer: str, timeout: float, https_only: bool) -> str:
    """The ``jwks_uri`` of an OpenID Connect issuer (OpenID Connect Discovery 1.0, section 4)."""
    document = _fetch_json(issuer.rstrip("/") + DISCOVERY_PATH, timeout, "discovery document")
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise IdentityProviderUnavailable(
            "the identity provider's discovery document names another issuer; check jwt_oidc_issuer"
        )
    uri = document.get("jwks_uri")
    schemes = ("https",) if https_only else ("http", "https")
    if not isinstance(uri, str) or urlsplit(uri).scheme not in schemes:
        raise IdentityProviderUnavailable("the discovery document has no usable 'jwks_uri'")
    return uri


class ProviderKeys:
    """The cached keys of one identity provider (thread-safe)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._jwks_url = settings.jwt_jwks_url
        self._issuer = settings.jwt_oidc_issuer
        self._lifetime = settings.jwt_jwks_cache_seconds
        self._refetch = settings.jwt_jwks_refetch_seconds
        self._timeout = float(settings.jwt_jwks_timeout_seconds)
        self._https_only = settings.mode == "production"
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: tuple[VerificationKey, ...] = ()
        self._fresh_until = float("-inf")
        self._last_early_fetch = float("-inf")
        self._failed_at = float("-inf")  # the last fetch that failed with no keys to fall back on

    def _fetch(self) -> tuple[VerificationKey, ...]:
        url = self._jwks_url or discover_jwks_uri(self._issuer, self._timeout, self._https_only)
        return provider_keys(_fetch_json(url, self._timeout, "keys (JWKS)"))

    def _refresh(self, early: bool) -> None:
        """Fetch the keys (the caller holds the lock); on failure keep the keys fetched before,
        if any, and try again no sooner than ``jwt_jwks_refetch_seconds``."""
        now = self._clock()
        if early:
            self._last_early_fetch = now
        elif not self._keys and now - self._failed_at < self._refetch:
            # Down a moment ago and nothing to fall back on: answer at once, and do not make
            # every request wait for the provider's timeout.
            raise IdentityProviderUnavailable(
                "the identity provider's keys could not be fetched; retry later"
            )
        try:
            self._keys = self._fetch()
        except IdentityProviderUnavailable:
            if not self._keys:
                self._failed_at = now
            if not self._keys or early:
                raise
            self._fresh_until = now + self._refetch
            _log.warning("using the identity provider's keys fetched before")
            return
        self._fresh_until = now + self._lifetime

    def keys(self) -> tuple[VerificationKey, ...]:
        with self._lock:
            if self._clock() >= self._fresh_until or not self._keys:
                self._refresh(early=False)
            return self._keys

    def key(self, kid: Any) -> VerificationKey:
        """The key a token's ``kid`` names, fetching the keys again (rate-limited) when it names
        none of the cached ones."""
        keys = self.keys()
        if kid is None and len(keys) > 1:
            raise InvalidToken("the token has no 'kid' header; it is needed to choose the key")
        found = _pick(keys, kid)
        if found is not None:
            return found
        with self._lock:
            found = _pick(self._keys, kid)  # another thread may have fetched meanwhile
            if found is None and self._clock() - self._last_early_fetch >= self._refetch:
                self._refresh(early=True)
                found = _pick(self._keys, kid)
        if found is None:
            raise InvalidToken("the token's 'kid' names no key of the identity provider")
        return found


def _pick(keys: tuple[VerificationKey, ...], kid: Any) -> VerificationKey | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((k for k in keys if k.kid is not None and k.kid == kid), None)


_PROVIDERS: dict[tuple[Any, ...], ProviderKeys] = {}
_PROVIDERS_LOCK = threading.Lock()


def provider_for(settings: Settings) -> ProviderKeys:
    """The one key cache of this process for the provider the settings name."""
    ident = (
        settings.jwt_jwks_url,
        settings.jwt_oidc_issuer,
        settings.jwt_jwks_cache_seconds,
        settings.jwt_jwks_refetch_seconds,
        settings.jwt_jwks_timeout_seconds,
    )
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(ident)
        if provider is None:
            provider = _PROVIDERS[ident] = ProviderKeys(settings)
        return provider
