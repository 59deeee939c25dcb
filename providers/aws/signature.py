"""Check the RSA signature of an EC2 instance identity document against AWS's public certificate for its region.

IMDS serves the document and, at /latest/dynamic/instance-identity/signature, a base64 RSA SHA-256 signature over
the document's bytes, verified with the region's "RSA certificate" that AWS publishes in its documentation
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/regions-certs.html; the check is the documented
`openssl dgst -sha256 -verify`, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/verify-signature.html).
Of the three signed forms (pkcs7, signature, rsa2048) this is the one `cryptography` verifies in one call.

Spotwise ships no certificate bytes: the operator copies them from that page into
`providers.aws.identity_certificates` ({region or "default": PEM text or a path to a PEM file}), so what the
daemon trusts is what the operator read from AWS, not something this project typed in.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from providers.identity import Expected, IdentityRefused, SignatureVerifier, load_pem

CERTS_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/regions-certs.html"


def load_certificates(config: Any, home: Path | None = None) -> dict[str, x509.Certificate]:
    """region (or "default") -> certificate from `providers.aws.identity_certificates`."""
    if not isinstance(config, dict):
        raise ValueError("providers.aws.identity_certificates must map a region (or \"default\") to a PEM "
                         f"certificate or a path to one; see {CERTS_DOC}")
    certs = {}
    for region, value in config.items():
        cert = load_pem(value, f"providers.aws.identity_certificates.{region}", home)[0]
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise ValueError(f"providers.aws.identity_certificates.{region}: use AWS's RSA certificate for the "
                             f"`signature` form, not the DSA or another one ({CERTS_DOC})")
        certs[str(region)] = cert
    return certs


def aws_verifier(certs: dict[str, x509.Certificate]) -> SignatureVerifier:
    """A verifier for AWS proofs; a proof without `signature` (an older agent) is unsigned: False."""

    def check(proof: dict[str, Any], want: Expected) -> bool:
        signature = proof.get("signature")
        if not signature:
            return False
        document = str(proof.get("document", ""))
        try:
            region = str(json.loads(document).get("region", ""))
        except (ValueError, AttributeError):
            raise IdentityRefused("the AWS instance identity document is not a JSON object") from None
        cert = certs.get(region) or certs.get("default")
        if cert is None:
            raise IdentityRefused(f"no AWS identity certificate is configured for region {region!r} "
                                  f"(providers.aws.identity_certificates; {CERTS_DOC})")
        key = cert.public_key()
        assert isinstance(key, rsa.RSAPublicKey)  # load_certificates keeps RSA ones only
        try:
            key.verify(base64.b64decode("".join(str(signature).split()), validate=True), document.encode(),
                       padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, binascii.Error, ValueError):
            raise IdentityRefused("the AWS instance identity document's signature does not verify under AWS's "
                                  f"certificate for {region or 'the default region'}") from None
        return True

    return check
