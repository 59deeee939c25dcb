"""GCP's instance identity proof (providers/identity.py describes the hooks): the metadata server's identity token.

On the instance: GET /computeMetadata/v1/instance/service-accounts/default/identity?audience=<daemon URL>&format=
full with `Metadata-Flavor: Google` (https://cloud.google.com/compute/docs/instances/verifying-instance-identity),
a JWT. On the daemon: `aud` must be the daemon's public URL, `exp` in the future, `google.compute_engine.
instance_id` the recorded numeric id (the instance name and zone where none was recorded), `zone` the recorded
zone, `project_id` the configured project; the signature is Google's (providers/gcp/signature.py). A VM without a
service account gets no identity token: its agent sends the metadata server's plain instance/id, instance/zone and
project/project-id, checked the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from providers.identity import Expected, IdentityRefused, SignatureVerifier, same, signature_required

METADATA = "http://metadata.google.internal"
ACCOUNT_KEY = "project"
PROOF_NAMES_ZONE = True


def fetch_proof(url: str, *, audience: str, claim: str, timeout: float = 5.0) -> dict[str, Any]:
    """The identity token; on a VM without a service account (GCE then has no token to give: 404) the plain
    instance id, zone and project from the metadata server instead, which the daemon checks the same way."""
    base, flavor = url or METADATA, {"Metadata-Flavor": "Google"}
    with httpx.Client(timeout=timeout) as client:
        answer = client.get(f"{base}/computeMetadata/v1/instance/service-accounts/default/identity",
                            params={"audience": audience, "format": "full"}, headers=flavor)
        if answer.status_code == 404:
            plain = {}
            for key, path in (("instance_id", "instance/id"), ("zone", "instance/zone"),
                              ("project_id", "project/project-id")):
                got = client.get(f"{base}/computeMetadata/v1/{path}", headers=flavor)
                got.raise_for_status()
                plain[key] = got.text.strip().rsplit("/", 1)[-1]  # zone: projects/NUMBER/zones/ZONE
            return {"kind": "gcp", "metadata": plain}
        answer.raise_for_status()
    return {"kind": "gcp", "jwt": answer.text.strip()}


def _jwt_claims(token: Any) -> dict[str, Any]:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise IdentityRefused("a GCP proof needs `jwt`: the metadata server's identity token (three parts)")
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        raise IdentityRefused("the GCP identity token's payload is not base64url JSON") from None
    if not isinstance(claims, dict):
        raise IdentityRefused("the GCP identity token's payload is not a JSON object")
    return claims


def check_fields(proof: dict[str, Any], want: Expected, *, audience: str, claim: str, now: datetime) -> list[str]:
    if "jwt" not in proof and isinstance(proof.get("metadata"), dict):  # a VM without a service account
        return _fields(proof["metadata"], want)
    claims = _jwt_claims(proof.get("jwt"))
    if str(claims.get("aud", "")).rstrip("/") != audience.rstrip("/"):
        raise IdentityRefused(f"the GCP identity token is for audience {claims.get('aud')!r}, not {audience!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now.timestamp():
        raise IdentityRefused("the GCP identity token has expired (or names no `exp`)")
    ce = (claims.get("google") or {}).get("compute_engine") if isinstance(claims.get("google"), dict) else None
    if not isinstance(ce, dict):
        raise IdentityRefused("the GCP identity token has no google.compute_engine claims: ask with format=full")
    return _fields(ce, want)


def _fields(ce: dict[str, Any], want: Expected) -> list[str]:
    fields = [same("zone", ce.get("zone"), want.zone), same("project_id", ce.get("project_id"), want.account)]
    if want.uid:
        fields.append(same("instance_id", ce.get("instance_id"), want.uid))
    else:  # no numeric id recorded: the name in its zone (unique in a project while it lives)
        fields.append(same("instance_name", f"{ce.get('zone')}/{ce.get('instance_name')}", want.instance_id))
    return fields


def build_verifier(section: Mapping[str, Any], *, home: Path, audience: str,
                   require_signature: bool) -> SignatureVerifier | None:
    """Always, against `identity_jwks_url` (Google's JWKS by default; "" turns it off)."""
    from providers.gcp.identity_keys import GOOGLE_JWKS_URL, JwksCache, check_jwks_url
    from providers.gcp.signature import gcp_verifier

    url = section.get("identity_jwks_url", GOOGLE_JWKS_URL)
    if url:
        return gcp_verifier(JwksCache(check_jwks_url(str(url))), audience)
    if require_signature:
        raise signature_required("gcp", "identity_jwks_url", GOOGLE_JWKS_URL)
    return None
