"""Test stand-ins for the clouds' signing keys, made with `cryptography` (no cloud key or certificate is copied).

The fake metadata servers sign identity proofs with them the way each cloud does, and the daemon under test is
configured to trust their public halves: Google's JWKS (served by tests/agent/fake_jwks.py), AWS's regional RSA
certificate, and a CA standing for Microsoft's that issued a `metadata.azure.com` signer certificate.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(subject: str, key: rsa.RSAPrivateKey, *, issuer: tuple[str, rsa.RSAPrivateKey] | None = None,
                ca: bool = False, days: int = 30) -> x509.Certificate:
    """A certificate for `subject` (a CN), self-signed or issued by (issuer CN, issuer key)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signing_key = (x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]), issuer[1]) \
        if issuer else (name, key)
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
               .not_valid_after(now + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(signing_key, hashes.SHA256())


def common_name(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def jwk(kid: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The public half of `key` as Google's JWKS lists it (RFC 7517)."""
    numbers = key.public_key().public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": b64(numbers.n), "e": b64(numbers.e)}


@dataclass
class CloudKeys:
    gcp_kid: str
    gcp_key: rsa.RSAPrivateKey
    aws_key: rsa.RSAPrivateKey
    aws_cert: x509.Certificate
    azure_ca_key: rsa.RSAPrivateKey
    azure_ca: x509.Certificate
    azure_key: rsa.RSAPrivateKey
    azure_cert: x509.Certificate
    azure_intermediates: tuple[x509.Certificate, ...] = ()  # embedded in the PKCS#7 besides the signer's


def make_keys(tag: str = "a") -> CloudKeys:
    aws_key, ca_key, azure_key = rsa_key(), rsa_key(), rsa_key()
    ca_name = f"Test Microsoft RSA TLS CA {tag}"
    return CloudKeys(gcp_kid=f"test-kid-{tag}", gcp_key=rsa_key(), aws_key=aws_key,
                     aws_cert=certificate(f"Test Amazon Web Services {tag}", aws_key), azure_ca_key=ca_key,
                     azure_ca=certificate(ca_name, ca_key, ca=True), azure_key=azure_key,
                     azure_cert=certificate("metadata.azure.com", azure_key, issuer=(ca_name, ca_key)))


@functools.cache
def default_keys() -> CloudKeys:
    """The keys every fake metadata server signs with unless a test swaps them (made once per test process)."""
    return make_keys()
