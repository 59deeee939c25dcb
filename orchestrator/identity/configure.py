"""Build the daemon's signature verifiers from its configuration, once, at start.

Why at start: a setting that cannot work (a PEM file that does not load, `bootstrap_require_signature: true` with
nothing to verify AWS's signatures with) should stop the daemon with a message naming the setting, not turn every
exchange into a 403 an hour later. Which provider gets a verifier:
- gcp: always, against `providers.gcp.identity_jwks_url` (Google's JWKS by default; "" turns it off);
- aws: when `providers.aws.identity_certificates` names at least one certificate;
- azure: when `providers.azure.identity_ca_certificates` names at least one certificate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509

from orchestrator.config import Settings
from orchestrator.identity import SignatureVerifier
from orchestrator.identity.aws import CERTS_DOC, aws_verifier, load_certificates, load_pem
from orchestrator.identity.azure import azure_verifier
from orchestrator.identity.gcp import gcp_verifier
from providers.gcp.identity_keys import GOOGLE_JWKS_URL, JwksCache, check_jwks_url

AZURE_CA_DOC = "https://learn.microsoft.com/azure/security/fundamentals/azure-ca-details"


class IdentityConfigError(ValueError):
    """The identity settings cannot work; the message names the setting and where to read about it."""


def _required(settings: Settings, provider: str, setting: str, doc: str) -> None:
    if settings.bootstrap_require_signature:
        raise IdentityConfigError(
            f"bootstrap_require_signature is true but providers.{provider}.{setting} is not set, so no {provider} "
            f"agent could prove its identity; configure it ({doc}) or set bootstrap_require_signature: false")


def _azure_roots(value: Any, home: Path) -> list[x509.Certificate]:
    values = [value] if isinstance(value, str) else list(value or [])
    return [cert for i, v in enumerate(values)
            for cert in load_pem(v, f"providers.azure.identity_ca_certificates[{i}]", home)]


def build_verifiers(settings: Settings) -> dict[str, SignatureVerifier]:
    """provider -> verifier for the configured clouds; IdentityConfigError for settings that cannot work."""
    built: dict[str, SignatureVerifier] = {}
    sections = {name: dict(section or {}) for name, section in settings.providers.items()}
    try:
        if "gcp" in sections:
            url = sections["gcp"].get("identity_jwks_url", GOOGLE_JWKS_URL)
            if url:
                built["gcp"] = gcp_verifier(JwksCache(check_jwks_url(str(url))), settings.effective_public_url)
            else:
                _required(settings, "gcp", "identity_jwks_url", GOOGLE_JWKS_URL)
        if "aws" in sections:
            certs = load_certificates(sections["aws"].get("identity_certificates") or {}, settings.home)
            if certs:
                built["aws"] = aws_verifier(certs)
            else:
                _required(settings, "aws", "identity_certificates", CERTS_DOC)
        if "azure" in sections:
            roots = _azure_roots(sections["azure"].get("identity_ca_certificates"), settings.home)
            if roots:
                built["azure"] = azure_verifier(roots)
            else:
                _required(settings, "azure", "identity_ca_certificates", AZURE_CA_DOC)
    except IdentityConfigError:
        raise
    except ValueError as exc:
        raise IdentityConfigError(str(exc)) from None
    return built
