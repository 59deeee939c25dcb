"""AWS's instance identity proof (providers/identity.py describes the hooks): the EC2 instance identity document.

On the instance: IMDSv2 -- PUT /latest/api/token, then GET /latest/dynamic/instance-identity/document, .../signature
(the RSA SHA-256 signature the daemon verifies with AWS's regional certificate: providers/aws/signature.py) and
.../pkcs7 (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-identity-documents.html).
On the daemon: `instanceId` must be the recorded instance id, `region` and `availabilityZone` the recorded ones,
`accountId` the configured `account_id` where one is configured.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from providers.identity import Expected, IdentityRefused, SignatureVerifier, same, signature_required

IMDS = "http://169.254.169.254"
ACCOUNT_KEY = "account_id"
PROOF_NAMES_ZONE = True


def fetch_proof(url: str, *, audience: str, claim: str, timeout: float = 5.0) -> dict[str, Any]:
    base = url or IMDS
    with httpx.Client(timeout=timeout) as client:
        token = client.put(f"{base}/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        token.raise_for_status()
        headers = {"X-aws-ec2-metadata-token": token.text}
        document = client.get(f"{base}/latest/dynamic/instance-identity/document", headers=headers)
        document.raise_for_status()
        signed = {}
        for form in ("signature", "pkcs7"):
            got = client.get(f"{base}/latest/dynamic/instance-identity/{form}", headers=headers)
            signed[form] = got.text.strip() if got.status_code == 200 else ""
    return {"kind": "aws", "document": document.text, **signed}


def check_fields(proof: dict[str, Any], want: Expected, *, audience: str, claim: str, now: datetime) -> list[str]:
    try:
        doc = json.loads(proof["document"])
    except (KeyError, TypeError, ValueError):
        raise IdentityRefused("an AWS proof needs `document`: the instance identity document's JSON") from None
    if not isinstance(doc, dict):
        raise IdentityRefused("the AWS instance identity document is not a JSON object")
    return [same("instanceId", doc.get("instanceId"), want.uid or want.instance_id),
            same("region", doc.get("region"), want.region),
            same("availabilityZone", doc.get("availabilityZone"), want.zone),
            same("accountId", doc.get("accountId"), want.account)]


def build_verifier(section: Mapping[str, Any], *, home: Path, audience: str,
                   require_signature: bool) -> SignatureVerifier | None:
    """When `identity_certificates` names at least one certificate."""
    from providers.aws.signature import CERTS_DOC, aws_verifier, load_certificates

    certs = load_certificates(section.get("identity_certificates") or {}, home)
    if certs:
        return aws_verifier(certs)
    if require_signature:
        raise signature_required("aws", "identity_certificates", CERTS_DOC)
    return None
