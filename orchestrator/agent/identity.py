"""The instance's identity proof for the bootstrap exchange, read from the cloud's metadata server.

SPOTWISE_IDENTITY names the source (the start-up script sets it to the cloud's name):
- `aws`: IMDSv2 -- PUT /latest/api/token, then GET /latest/dynamic/instance-identity/document, .../signature (the
  RSA SHA-256 signature the daemon verifies with AWS's regional certificate) and .../pkcs7
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-identity-documents.html);
- `gcp`: GET /computeMetadata/v1/instance/service-accounts/default/identity?audience=<daemon URL>&format=full
  with `Metadata-Flavor: Google` (https://cloud.google.com/compute/docs/instances/verifying-instance-identity);
- `azure`: GET /metadata/attested/document?api-version=2020-09-01&nonce=<10 digits> with `Metadata: true`
  (https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service#attested-data);
- `local`: the local provider's instance id (SPOTWISE_INSTANCE_ID).
`aws:URL`, `gcp:URL` and `azure:URL` point at another metadata address (tests use fake servers); "" sends no
proof (a provider without instance identity). The daemon checks the proof: orchestrator/identity.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from orchestrator.identity import azure_nonce

AWS_IMDS = "http://169.254.169.254"
GCP_METADATA = "http://metadata.google.internal"
AZURE_IMDS = "http://169.254.169.254"


def _aws(base: str, client: httpx.Client) -> dict[str, Any]:
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


def _gcp(base: str, client: httpx.Client, audience: str) -> dict[str, Any]:
    """The identity token; on a VM without a service account (GCE then has no token to give: 404) the plain
    instance id, zone and project from the metadata server instead, which the daemon checks the same way."""
    flavor = {"Metadata-Flavor": "Google"}
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


def _azure(base: str, client: httpx.Client, claim: str) -> dict[str, Any]:
    answer = client.get(f"{base}/metadata/attested/document",
                        params={"api-version": "2020-09-01", "nonce": azure_nonce(claim)}, headers={"Metadata": "true"})
    answer.raise_for_status()
    return {"kind": "azure", "document": answer.json()}


def identity_proof(source: str, *, audience: str, claim: str, timeout: float = 5.0) -> dict[str, Any]:
    """The proof for `source` (see the module docstring); raises httpx errors for the caller to retry."""
    kind, _, url = source.partition(":")
    if kind == "":
        return {}
    if kind == "local":
        return {"kind": "local", "instance_id": url or os.environ.get("SPOTWISE_INSTANCE_ID", "")}
    with httpx.Client(timeout=timeout) as client:
        if kind == "aws":
            return _aws(url or AWS_IMDS, client)
        if kind == "gcp":
            return _gcp(url or GCP_METADATA, client, audience)
        if kind == "azure":
            return _azure(url or AZURE_IMDS, client, claim)
    raise ValueError(f"unknown SPOTWISE_IDENTITY {source!r}; use aws, gcp, azure or local (optionally :URL)")
