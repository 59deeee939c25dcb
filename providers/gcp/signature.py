"""Check the signature of a GCE identity token (an RS256 JWT signed by Google) against Google's JWKS.

Why not google-auth: it would be a runtime dependency for one RSA check that `cryptography` (already one) does.
What is checked (https://cloud.google.com/compute/docs/instances/verifying-instance-identity#verify_signature):
the header's `alg` is RS256 and its `kid` names a key of the JWKS (providers/gcp/identity_keys.py fetches and
caches it), the RSASSA-PKCS1-v1_5 SHA-256 signature over `header.payload` is good under that key, `iss` is
Google's, `aud` is the daemon's public URL and `exp` is in the future. The instance fields are compared by
providers/gcp/identity.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from providers.gcp.identity_keys import JwksCache, KeysUnavailable
from providers.identity import Expected, IdentityRefused, SignatureUnavailable, SignatureVerifier

ISSUERS = ("https://accounts.google.com", "accounts.google.com")


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url(part))
    except (ValueError, binascii.Error):
        raise IdentityRefused(f"the GCP identity token's {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise IdentityRefused(f"the GCP identity token's {what} is not a JSON object")
    return value


def gcp_verifier(keys: JwksCache, audience: str) -> SignatureVerifier:
    """A verifier for GCP proofs; a proof without a token (a VM without a service account) is unsigned: False."""

    def check(proof: dict[str, Any], want: Expected) -> bool:
        token = proof.get("jwt")
        if not isinstance(token, str):
            return False
        parts = token.split(".")
        if len(parts) != 3:
            raise IdentityRefused("the GCP identity token is not a JWT (three parts)")
        header, claims = _json(parts[0], "header"), _json(parts[1], "payload")
        if header.get("alg") != "RS256":
            raise IdentityRefused(f"the GCP identity token is signed with {header.get('alg')!r}, not RS256")
        kid = str(header.get("kid", ""))
        try:
            key = keys.key(kid)
        except KeysUnavailable as exc:
            raise SignatureUnavailable(str(exc)) from None
        if key is None:
            raise IdentityRefused(f"the GCP identity token names key {kid!r}, which Google's JWKS ({keys.url}) "
                                  "does not hold")
        try:
            key.verify(_b64url(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, binascii.Error, ValueError):
            raise IdentityRefused("the GCP identity token's signature is not Google's") from None
        if claims.get("iss") not in ISSUERS:
            raise IdentityRefused(f"the GCP identity token was issued by {claims.get('iss')!r}, not Google")
        if str(claims.get("aud", "")).rstrip("/") != audience.rstrip("/"):
            raise IdentityRefused(f"the GCP identity token is for audience {claims.get('aud')!r}, not {audience!r}")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= time.time():
            raise IdentityRefused("the GCP identity token has expired (or names no `exp`)")
        return True

    return check
