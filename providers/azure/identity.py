"""Azure's instance identity proof (providers/identity.py describes the hooks): the attested metadata document.

On the instance: GET /metadata/attested/document?api-version=2020-09-01&nonce=<10 digits> with `Metadata: true`
(https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service#attested-data). On the daemon: a
PKCS#7 SignedData whose content names `vmId` (must be the recorded vmId), `subscriptionId` (the configured
subscription) and `nonce` (must be the one derived from this exchange's claim, so a document read for another
exchange is refused); its signature and certificate chain: providers/azure/signature.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from providers.azure.der import DerError, signed_content
from providers.identity import Expected, IdentityRefused, SignatureVerifier, load_pem, same, signature_required

IMDS = "http://169.254.169.254"
ACCOUNT_KEY = "subscription_id"
PROOF_NAMES_ZONE = False
CA_DOC = "https://learn.microsoft.com/azure/security/fundamentals/azure-ca-details"


def azure_nonce(claim: str) -> str:
    """The 10-digit nonce an agent asks Azure to sign into its attested document: derived from its claim, so the
    daemon knows which nonce to expect and a document attested for another exchange does not pass."""
    return str(int(hashlib.sha256(b"spotwise azure nonce\0" + claim.encode()).hexdigest()[:15], 16) % 10**10).zfill(10)


def fetch_proof(url: str, *, audience: str, claim: str, timeout: float = 5.0) -> dict[str, Any]:
    with httpx.Client(timeout=timeout) as client:
        answer = client.get(f"{url or IMDS}/metadata/attested/document",
                            params={"api-version": "2020-09-01", "nonce": azure_nonce(claim)},
                            headers={"Metadata": "true"})
        answer.raise_for_status()
    return {"kind": "azure", "document": answer.json()}


def _azure_time(text: Any) -> datetime | None:
    for fmt in ("%m/%d/%y %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(str(text), fmt)
        except ValueError:
            continue
    return None


def check_fields(proof: dict[str, Any], want: Expected, *, audience: str, claim: str, now: datetime) -> list[str]:
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
    return [same("nonce", content.get("nonce"), azure_nonce(claim)),
            same("vmId", content.get("vmId"), want.uid or want.instance_id),
            same("subscriptionId", content.get("subscriptionId"), want.account)]


def build_verifier(section: Mapping[str, Any], *, home: Path, audience: str,
                   require_signature: bool) -> SignatureVerifier | None:
    """When `identity_ca_certificates` names at least one certificate."""
    from providers.azure.signature import azure_verifier

    value = section.get("identity_ca_certificates")
    values = [value] if isinstance(value, str) else list(value or [])
    roots = [cert for i, v in enumerate(values)
             for cert in load_pem(v, f"providers.azure.identity_ca_certificates[{i}]", home)]
    if roots:
        return azure_verifier(roots)
    if require_signature:
        raise signature_required("azure", "identity_ca_certificates", CA_DOC)
    return None
