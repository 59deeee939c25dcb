"""Google's public keys for instance identity tokens (a JWKS), fetched over HTTPS and cached.

Why under providers/gcp: it is the one piece of the identity check that talks to Google, and this package is
where the project keeps what it knows about Google's endpoints. It imports nothing from orchestrator: the daemon's
check of the token (providers/gcp/signature.py) asks this cache for the key a token's `kid` names.

The cache follows Google's guidance for its OAuth2 certificates
(https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken): keep the keys for
the response's `Cache-Control: max-age`, and fetch again when a token names a key id not in the cached set (Google
rotates the keys about daily, publishing the next one in advance). Refetches for unknown ids are rate limited, so
a caller sending tokens with invented ids cannot make the daemon hammer the endpoint.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"
DEFAULT_MAX_AGE_S = 3600.0  # when the response names none
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class KeysUnavailable(RuntimeError):
    """The key set could not be fetched or read: a transient failure, not a bad token."""


def check_jwks_url(url: str) -> str:
    """HTTPS only (the keys decide who may exchange a bootstrap token); plain HTTP to a loopback address is allowed
    for tests and local mirrors."""
    parsed = urlparse(url)
    if parsed.scheme == "https" or (parsed.scheme == "http" and parsed.hostname in _LOOPBACK):
        return url
    raise ValueError(f"the identity JWKS URL must be https:// (or http:// on a loopback address), not {url!r}")


def _b64url_int(text: Any) -> int:
    if not isinstance(text, str):
        raise KeysUnavailable("a JWKS key lacks its RSA modulus or exponent")
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def _max_age(header: str) -> float:
    found = re.search(r"max-age=(\d+)", header or "")
    return float(found.group(1)) if found else DEFAULT_MAX_AGE_S


def parse_jwks(doc: Any) -> dict[str, RSAPublicKey]:
    """kid -> RSA public key for the RS256 keys of a JWKS document (RFC 7517); other keys are skipped."""
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        raise KeysUnavailable("the JWKS document has no `keys` list")
    out: dict[str, RSAPublicKey] = {}
    for key in keys:
        if isinstance(key, dict) and key.get("kty") == "RSA" and key.get("alg", "RS256") == "RS256" \
                and isinstance(key.get("kid"), str):
            out[key["kid"]] = RSAPublicNumbers(_b64url_int(key.get("e")), _b64url_int(key.get("n"))).public_key()
    return out


class JwksCache:
    """The keys of one JWKS URL; thread-safe (the API serves exchanges from a thread pool)."""

    def __init__(self, url: str = GOOGLE_JWKS_URL, *, timeout: float = 10.0, min_refetch_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = check_jwks_url(url)
        self.timeout = timeout
        self.min_refetch_s = min_refetch_s
        self.clock = clock
        self.fetches = 0
        self._keys: dict[str, RSAPublicKey] = {}
        self._expires = 0.0
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        try:
            answer = httpx.get(self.url, timeout=self.timeout)
            answer.raise_for_status()
            keys = parse_jwks(answer.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise KeysUnavailable(f"could not fetch the identity token keys from {self.url}: {exc}") from None
        now = self.clock()
        self.fetches += 1
        self._keys, self._fetched_at = keys, now
        self._expires = now + _max_age(answer.headers.get("cache-control", ""))

    def key(self, kid: str) -> RSAPublicKey | None:
        """The key named `kid`, or None when the freshly fetched set does not have it."""
        with self._lock:
            now = self.clock()
            if self._fetched_at is None or now >= self._expires:
                self._fetch()
            elif kid not in self._keys and now - self._fetched_at >= self.min_refetch_s:
                self._fetch()  # a rotated key: Google published a new one since the cached fetch
            return self._keys.get(kid)
