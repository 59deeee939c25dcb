"""Build the daemon's signature verifiers from its configuration, once, at start.

Why at start: a setting that cannot work (a PEM file that does not load, `bootstrap_require_signature: true` with
nothing to verify AWS's signatures with) should stop the daemon with a message naming the setting, not turn every
exchange into a 403 an hour later. Which provider gets a verifier is the cloud's to say: each configured cloud
whose identity module has a `build_verifier` (providers/identity.py) builds it from its own `providers:` section
(gcp: always, against `identity_jwks_url`; aws: when `identity_certificates` names a certificate; azure: when
`identity_ca_certificates` does).
"""

from __future__ import annotations

from orchestrator.config import Settings
from orchestrator.identity import SignatureVerifier
from providers.plugin import identity_module


class IdentityConfigError(ValueError):
    """The identity settings cannot work; the message names the setting and where to read about it."""


def build_verifiers(settings: Settings) -> dict[str, SignatureVerifier]:
    """provider -> verifier for the configured clouds; IdentityConfigError for settings that cannot work."""
    built: dict[str, SignatureVerifier] = {}
    for name, section in settings.providers.items():
        module = identity_module(name)
        build = getattr(module, "build_verifier", None)
        if build is None:
            continue
        try:
            verifier = build(dict(section or {}), home=settings.home, audience=settings.effective_public_url,
                             require_signature=settings.bootstrap_require_signature)
        except ValueError as exc:
            raise IdentityConfigError(str(exc)) from None
        if verifier is not None:
            built[name] = verifier
    return built
