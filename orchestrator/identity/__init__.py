"""Check an agent's instance identity proof against the instance the daemon recorded at launch.

The bootstrap exchange (orchestrator/api/agent_exchange.py) takes, besides the bootstrap token, a proof that
the caller runs on the attempt's own machine, read from the cloud's metadata server on the instance
(orchestrator/agent/identity.py gathers it):

- aws: the EC2 instance identity document (IMDSv2 /latest/dynamic/instance-identity/document) and its signatures
  (/signature, verified by orchestrator/identity/aws.py; /pkcs7, passed along). `instanceId` must be the recorded
  instance id, `region` and `availabilityZone` the recorded ones, `accountId` the configured `account_id` where one
  is configured.
- gcp: the metadata server's identity token (instance/service-accounts/default/identity?audience=...&format=
  full), a JWT. `aud` must be the daemon's public URL, `exp` in the future, `google.compute_engine.instance_id`
  the recorded numeric id (the instance name and zone where none was recorded), `zone` the recorded zone,
  `project_id` the configured project. A VM without a service account gets no identity token: its agent sends
  the metadata server's plain instance/id, instance/zone and project/project-id, checked the same way.
- azure: the attested metadata document (/metadata/attested/document?nonce=...), a PKCS#7 SignedData whose
  content names `vmId` (must be the recorded vmId), `subscriptionId` (the configured subscription) and `nonce`
  (must be the one derived from this exchange's claim, so a document read for another exchange is refused).
- local: the local provider's instance id (SPOTWISE_INSTANCE_ID), so the same exchange runs in every test.

The cloud's signature over those fields is a separate, pluggable step: a verifier per provider, built from the
configuration at daemon start (orchestrator/identity/configure.py: Google's JWKS for GCP, AWS's per-region
certificates, Azure's CA certificates) and passed to `verify`, or registered process-wide with
`register_signature_verifier(provider, fn)`. A verifier returns False for a proof that carries no signature,
raises IdentityRefused for a bad one, SignatureUnavailable when it cannot check now (keys unreachable). With
`bootstrap_require_signature: true` an exchange is refused unless a verifier accepted the proof's signature.
docs/security.md has the full account.
The package imports only the settings (`config.py`) and `providers`; the runtime (which builds the verifiers), the
bootstrap exchange in the API and the agent (its nonce derivation) import it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orchestrator.identity.der import DerError, signed_content

# fn(proof, expected) -> True (signature checked and good); raise IdentityRefused for a bad one.
SignatureVerifier = Callable[[dict[str, Any], "Expected"], bool]
_VERIFIERS: dict[str, SignatureVerifier] = {}


class IdentityRefused(Exception):
    """The proof does not name the recorded instance (or is malformed); the message says which field."""


class SignatureUnavailable(Exception):
    """The signature cannot be checked right now (the cloud's keys are unreachable): try again, not a forgery."""


@dataclass(frozen=True)
class Expected:
    """What the daemon recorded at launch for the instance whose agent is exchanging its token."""

    provider: str
    instance_id: str  # the daemon's id (GCP: zone/name; Azure: the VM name)
    uid: str  # the cloud's own id, as the identity document names it ("" if the launch did not return one)
    region: str
    zone: str
    account: str = ""  # AWS account id / GCP project / Azure subscription, where the configuration names it


@dataclass(frozen=True)
class Verified:
    """An accepted proof: which fields matched, and whether a signature verifier vouched for them."""

    provider: str
    fields: tuple[str, ...]
    signature_verified: bool
    note: str = ""  # why the signature was not verified, for the exchange's job event


def register_signature_verifier(provider: str, verifier: SignatureVerifier) -> None:
    """Plug in a check of the cloud's signature (AWS's per-region certificate, Google's JWKS, Azure's chain)."""
    _VERIFIERS[provider] = verifier


def azure_nonce(claim: str) -> str:
    """The 10-digit nonce an agent asks Azure to sign into its attested document: derived from its claim, so the
    daemon knows which nonce to expect and a document attested for another exchange does not pass."""
    return str(int(hashlib.sha256(b"spotwise azure nonce\0" + claim.encode()).hexdigest()[:15], 16) % 10**10).zfill(10)


def _same(what: str, got: Any, want: str) -> str:
    if not want:
        return ""
    if str(got) != want:
        raise IdentityRefused(f"the identity proof names {what} {got!r}, but the attempt's instance has {want!r}")
    return what


def _check_aws(proof: dict[str, Any], want: Expected, **_: Any) -> list[str]:
    try:
        doc = json.loads(proof["document"])
    except (KeyError, TypeError, ValueError):
        raise IdentityRefused("an AWS proof needs `document`: the instance identity document's JSON") from None
    if not isinstance(doc, dict):
        raise IdentityRefused("the AWS instance identity document is not a JSON object")
    return [_same("instanceId", doc.get("instanceId"), want.uid or want.instance_id),
            _same("region", doc.get("region"), want.region),
            _same("availabilityZone", doc.get("availabilityZone"), want.zone),
            _same("accountId", doc.get("accountId"), want.account)]


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


def _check_gcp(proof: dict[str, Any], want: Expected, *, audience: str, now: datetime, **_: Any) -> list[str]:
    if "jwt" not in proof and isinstance(proof.get("metadata"), dict):  # a VM without a service account
        return _gcp_fields(proof["metadata"], want)
    claims = _jwt_claims(proof.get("jwt"))
    if str(claims.get("aud", "")).rstrip("/") != audience.rstrip("/"):
        raise IdentityRefused(f"the GCP identity token is for audience {claims.get('aud')!r}, not {audience!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now.timestamp():
        raise IdentityRefused("the GCP identity token has expired (or names no `exp`)")
    ce = (claims.get("google") or {}).get("compute_engine") if isinstance(claims.get("google"), dict) else None
    if not isinstance(ce, dict):
        raise IdentityRefused("the GCP identity token has no google.compute_engine claims: ask with format=full")
    return _gcp_fields(ce, want)


def _gcp_fields(ce: dict[str, Any], want: Expected) -> list[str]:
    fields = [_same("zone", ce.get("zone"), want.zone), _same("project_id", ce.get("project_id"), want.account)]
    if want.uid:
        fields.append(_same("instance_id", ce.get("instance_id"), want.uid))
    else:  # no numeric id recorded: the name in its zone (unique in a project while it lives)
        fields.append(_same("instance_name", f"{ce.get('zone')}/{ce.get('instance_name')}", want.instance_id))
    return fields


def _azure_time(text: Any) -> datetime | None:
    for fmt in ("%m/%d/%y %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(str(text), fmt)
        except ValueError:
            continue
    return None


def _check_azure(proof: dict[str, Any], want: Expected, *, claim: str, now: datetime, **_: Any) -> list[str]:
    doc = proof.get("document")
    signature = doc.get("signature") if isinstance(doc, dict) else None
    try:
        content = json.loads(signed_content(base64.b64decode(str(signature), validate=True)))
    except (DerError, ValueError, binascii.Error) as exc:
        raise IdentityRefused(f"the Azure attested document's signature is not a readable PKCS#7: {exc}") from None
    if not isinstance(content, dict):
        raise IdentityRefused("the Azure attested document's content is not a JSON object")
    expires = _azure_time((content.get("timeStamp") or {}).get("expiresOn")) \
        if isinstance(content.get("timeStamp"), dict) else None
    if expires is not None and expires <= now:
        raise IdentityRefused("the Azure attested document has expired")
    return [_same("nonce", content.get("nonce"), azure_nonce(claim)),
            _same("vmId", content.get("vmId"), want.uid or want.instance_id),
            _same("subscriptionId", content.get("subscriptionId"), want.account)]


def _check_local(proof: dict[str, Any], want: Expected, **_: Any) -> list[str]:
    return [_same("instance_id", proof.get("instance_id"), want.uid or want.instance_id)]


_CHECKS: dict[str, Callable[..., list[str]]] = {
    "aws": _check_aws, "gcp": _check_gcp, "azure": _check_azure, "local": _check_local}


def has_identity(provider: str) -> bool:
    """Whether a provider's instances can prove who they are (the four above); others exchange on the token."""
    return provider in _CHECKS


def verify(proof: Any, want: Expected, *, audience: str, claim: str, require_signature: bool = False,
           now: datetime | None = None, verifiers: Mapping[str, SignatureVerifier] | None = None) -> Verified:
    """Accept `proof` only if it names `want`'s instance; IdentityRefused says why not.

    `verifiers` (the daemon's, built from its configuration) win over the process-wide registered ones."""
    if not isinstance(proof, dict) or proof.get("kind") != want.provider:
        kind = proof.get("kind") if isinstance(proof, dict) else None
        raise IdentityRefused(f"the attempt runs on {want.provider}; an identity proof of kind {kind!r} cannot "
                              "stand for its instance")
    fields = _CHECKS[want.provider](proof, want, audience=audience, claim=claim, now=now or datetime.now(UTC))
    verifier = (verifiers or {}).get(want.provider) or _VERIFIERS.get(want.provider)
    signed = bool(verifier(proof, want)) if verifier is not None else False
    note = "" if signed else (f"no signature verifier is configured for {want.provider}" if verifier is None
                              else "the proof carries no signature")
    if require_signature and not signed:
        raise IdentityRefused(f"bootstrap_require_signature is on and no signature verifier for {want.provider} "
                              f"vouched for this proof ({note})")
    return Verified(want.provider, tuple(f for f in fields if f), signed, note)
