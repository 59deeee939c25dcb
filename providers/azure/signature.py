"""Check the PKCS#7 signature of an Azure attested metadata document and the certificate that made it.

Azure's IMDS signs the attested document as a PKCS#7 SignedData that embeds its signer certificate (subject
`metadata.azure.com` or a regional `*.metadata.azure.com`), issued by a Microsoft CA
(https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service#attested-data, "Sample 2:
validating that the VM is running in Azure"). What is checked here:
- a signer info of the SignedData verifies (RSA PKCS#1 v1.5, SHA-256/384/512) under an embedded certificate:
  over the signed attributes, whose messageDigest must be the content's digest, or over the content itself;
- that certificate is valid now, names metadata.azure.com (or a subdomain of it) in its subject or SAN, and is
  issued by one of the configured `providers.azure.identity_ca_certificates` directly, or through an intermediate
  embedded in the document that a configured certificate issued.
Spotwise ships no Microsoft certificate: the operator configures the CA (or intermediate) certificates Microsoft
documents (https://learn.microsoft.com/azure/security/fundamentals/azure-ca-details), as PEM text or paths.
Revocation (CRL/OCSP) is not checked: that would need the daemon to reach Microsoft's CRL endpoints.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from providers.azure.der import DerError, SignerInfo, parse_signed_data
from providers.identity import Expected, IdentityRefused, SignatureVerifier

SUBJECT = "metadata.azure.com"
_DIGESTS: dict[bytes, type[hashes.HashAlgorithm]] = {
    bytes.fromhex("608648016503040201"): hashes.SHA256,
    bytes.fromhex("608648016503040202"): hashes.SHA384,
    bytes.fromhex("608648016503040203"): hashes.SHA512,
}


def _names(cert: x509.Certificate) -> list[str]:
    names = [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    with contextlib.suppress(x509.ExtensionNotFound):
        names += cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    return names


def _is_metadata_name(name: str) -> bool:
    name = name.lower().rstrip(".")
    return name == SUBJECT or name.endswith("." + SUBJECT)


def _signed_by(signer: SignerInfo, content: bytes, cert: x509.Certificate) -> bool:
    algorithm = _DIGESTS.get(signer.digest_oid)
    key = cert.public_key()
    if algorithm is None or not isinstance(key, rsa.RSAPublicKey):
        return False
    if signer.signed_attrs is not None:
        digest = hashes.Hash(algorithm())
        digest.update(content)
        if signer.message_digest != digest.finalize():
            return False
    try:
        key.verify(signer.signature, signer.signed_attrs if signer.signed_attrs is not None else content,
                   padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        return False
    return True


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _valid_now(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _chains(cert: x509.Certificate, embedded: list[x509.Certificate], roots: list[x509.Certificate],
            now: datetime) -> bool:
    if any(_issued_by(cert, root) for root in roots):
        return True
    return any(_issued_by(cert, mid) and _valid_now(mid, now) and any(_issued_by(mid, root) for root in roots)
               for mid in embedded if mid != cert)


def azure_verifier(roots: list[x509.Certificate]) -> SignatureVerifier:
    """A verifier for Azure proofs, trusting signer certificates that chain to `roots`."""

    def check(proof: dict[str, Any], want: Expected) -> bool:
        doc = proof.get("document")
        signature = doc.get("signature") if isinstance(doc, dict) else None
        if not signature:
            return False
        try:
            der = base64.b64decode(str(signature), validate=True)
            parts = parse_signed_data(der)
            embedded = pkcs7.load_der_pkcs7_certificates(der)
        except (DerError, ValueError, binascii.Error) as exc:
            raise IdentityRefused(f"the Azure attested document is not a readable PKCS#7: {exc}") from None
        now = datetime.now(UTC)
        for signer in parts.signers:
            for cert in embedded:
                if not _signed_by(signer, parts.content, cert):
                    continue
                if not any(_is_metadata_name(n) for n in _names(cert)):
                    raise IdentityRefused(f"the Azure attested document is signed by {cert.subject.rfc4514_string()}"
                                          f", not by {SUBJECT}")
                if not _valid_now(cert, now):
                    raise IdentityRefused("the Azure attested document's signer certificate is expired or not "
                                          "yet valid")
                if not _chains(cert, embedded, roots, now):
                    raise IdentityRefused("the Azure attested document's signer certificate does not chain to a "
                                          "configured providers.azure.identity_ca_certificates certificate")
                return True
        raise IdentityRefused("the Azure attested document's PKCS#7 signature does not verify under its embedded "
                              "certificates")

    return check
