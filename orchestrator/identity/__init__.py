"""Check an agent's instance identity proof against the instance the daemon recorded at launch.

The bootstrap exchange (orchestrator/api/agent_exchange.py) takes, besides the bootstrap token, a proof that
the caller runs on the attempt's own machine, read from the cloud's metadata server on the instance
(orchestrator/agent/identity.py gathers it). What a proof is, and which of its fields must match the record, is
the cloud's: each cloud plugin names its identity module (`CloudPlugin.identity`; providers/identity.py lists
the hooks, providers/aws/identity.py, providers/gcp/identity.py, providers/azure/identity.py and
providers/local/identity.py are the built-in ones). A cloud without one exchanges on the bootstrap token alone.

The cloud's signature over those fields is a separate, pluggable step: a verifier per provider, built from the
configuration at daemon start (orchestrator/identity/configure.py asks each configured cloud's `build_verifier`:
Google's JWKS for GCP, AWS's per-region certificates, Azure's CA certificates) and passed to `verify`, or
registered process-wide with `register_signature_verifier(provider, fn)`. A verifier returns False for a proof
that carries no signature, raises IdentityRefused for a bad one, SignatureUnavailable when it cannot check now
(keys unreachable). With `bootstrap_require_signature: true` an exchange is refused unless a verifier accepted
the proof's signature. docs/security.md has the full account.
The package imports only the settings (`config.py`) and `providers`; the runtime (which builds the verifiers) and
the bootstrap exchange in the API import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from providers.identity import Expected, IdentityRefused, SignatureUnavailable, SignatureVerifier
from providers.plugin import identity_module

__all__ = ["Expected", "IdentityRefused", "SignatureUnavailable", "SignatureVerifier", "Verified", "has_identity",
           "register_signature_verifier", "verify"]

_VERIFIERS: dict[str, SignatureVerifier] = {}


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


def has_identity(provider: str) -> bool:
    """Whether a provider's instances can prove who they are (its plugin declares an identity module); others
    exchange on the token."""
    return identity_module(provider) is not None


def verify(proof: Any, want: Expected, *, audience: str, claim: str, require_signature: bool = False,
           now: datetime | None = None, verifiers: Mapping[str, SignatureVerifier] | None = None) -> Verified:
    """Accept `proof` only if it names `want`'s instance; IdentityRefused says why not.

    `verifiers` (the daemon's, built from its configuration) win over the process-wide registered ones."""
    if not isinstance(proof, dict) or proof.get("kind") != want.provider:
        kind = proof.get("kind") if isinstance(proof, dict) else None
        raise IdentityRefused(f"the attempt runs on {want.provider}; an identity proof of kind {kind!r} cannot "
                              "stand for its instance")
    module = identity_module(want.provider)
    if module is None:
        raise IdentityRefused(f"{want.provider} declares no instance identity proof to check")
    fields = module.check_fields(proof, want, audience=audience, claim=claim, now=now or datetime.now(UTC))
    verifier = (verifiers or {}).get(want.provider) or _VERIFIERS.get(want.provider)
    signed = bool(verifier(proof, want)) if verifier is not None else False
    note = "" if signed else (f"no signature verifier is configured for {want.provider}" if verifier is None
                              else "the proof carries no signature")
    if require_signature and not signed:
        raise IdentityRefused(f"bootstrap_require_signature is on and no signature verifier for {want.provider} "
                              f"vouched for this proof ({note})")
    return Verified(want.provider, tuple(f for f in fields if f), signed, note)
