"""Each cloud's identity proof, read by the agent's own code from a fake metadata server over HTTP, is accepted for
the recorded instance only; what is and is not verified is what orchestrator/identity says."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator

import pytest

from orchestrator import identity
from orchestrator.agent.identity import identity_proof
from orchestrator.identity import Expected, IdentityRefused, register_signature_verifier, verify
from tests.agent.fake_metadata import MetadataState, fake_metadata_server

AUDIENCE = "https://spotwise.example.com:8470"
CASES = {  # cloud -> what the daemon recorded at launch
    "aws": Expected("aws", "i-0123456789abcdef0", "i-0123456789abcdef0", "us-east-1", "us-east-1a", "123456789012"),
    "gcp": Expected("gcp", "us-central1-a/sw-j-1-1", "4242424242424242", "us-central1", "us-central1-a", "proj-1"),
    "azure": Expected("azure", "sw-j-1-1", "3f2b5c1e-9a51-4c8e-8d62-0f0e5e7d7a11", "eastus", "", "sub-1"),
}


@pytest.fixture
def metadata() -> Iterator[tuple[str, MetadataState]]:
    with fake_metadata_server() as served:
        yield served


def _be(state: MetadataState, want: Expected, **changes: str) -> None:
    want = dataclasses.replace(want, **changes)  # type: ignore[arg-type]
    state.set_identity(want.provider, want.uid, region=want.region, zone=want.zone, account=want.account)


@pytest.mark.parametrize("cloud", sorted(CASES))
def test_the_recorded_instance_is_accepted_and_any_other_refused(
        cloud: str, metadata: tuple[str, MetadataState]) -> None:
    url, state = metadata
    want = CASES[cloud]
    claim = secrets.token_urlsafe(32)
    _be(state, want)
    proved = verify(identity_proof(f"{cloud}:{url}", audience=AUDIENCE, claim=claim), want, audience=AUDIENCE,
                    claim=claim)
    assert proved.provider == cloud and proved.signature_verified is False
    assert {"aws": "instanceId", "gcp": "instance_id", "azure": "vmId"}[cloud] in proved.fields
    others = [{"uid": "another-instance"}, {"account": "someone-else"}]
    if cloud != "azure":
        others.append({"zone": f"{want.region}-z"})
    for change in others:
        _be(state, want, **change)
        with pytest.raises(IdentityRefused):
            verify(identity_proof(f"{cloud}:{url}", audience=AUDIENCE, claim=claim), want, audience=AUDIENCE,
                   claim=claim)


def test_a_gcp_token_for_another_audience_and_an_azure_document_for_another_claim_are_refused(
        metadata: tuple[str, MetadataState]) -> None:
    url, state = metadata
    claim, other = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    _be(state, CASES["gcp"])
    proof = identity_proof(f"gcp:{url}", audience="https://attacker.example", claim=claim)
    with pytest.raises(IdentityRefused, match="audience"):
        verify(proof, CASES["gcp"], audience=AUDIENCE, claim=claim)
    _be(state, CASES["azure"])
    replayed = identity_proof(f"azure:{url}", audience=AUDIENCE, claim=other)  # attested for another exchange
    with pytest.raises(IdentityRefused, match="nonce"):
        verify(replayed, CASES["azure"], audience=AUDIENCE, claim=claim)


def test_a_gcp_vm_without_a_service_account_proves_itself_with_plain_metadata(
        metadata: tuple[str, MetadataState]) -> None:
    url, state = metadata
    want, claim = CASES["gcp"], secrets.token_urlsafe(32)
    state.gcp_service_account = False
    _be(state, want)
    proof = identity_proof(f"gcp:{url}", audience=AUDIENCE, claim=claim)
    assert "jwt" not in proof and proof["metadata"]["zone"] == want.zone
    assert "instance_id" in verify(proof, want, audience=AUDIENCE, claim=claim).fields
    _be(state, want, uid="99")
    with pytest.raises(IdentityRefused, match="instance_id"):
        verify(identity_proof(f"gcp:{url}", audience=AUDIENCE, claim=claim), want, audience=AUDIENCE, claim=claim)


def test_signature_verification_is_a_pluggable_step(metadata: tuple[str, MetadataState]) -> None:
    url, state = metadata
    want, claim = CASES["aws"], secrets.token_urlsafe(32)
    _be(state, want)
    proof = identity_proof(f"aws:{url}", audience=AUDIENCE, claim=claim)
    with pytest.raises(IdentityRefused, match="bootstrap_require_signature"):
        verify(proof, want, audience=AUDIENCE, claim=claim, require_signature=True)
    seen: list[str] = []
    register_signature_verifier("aws", lambda p, w: seen.append(str(p["pkcs7"])) or True)
    try:
        assert verify(proof, want, audience=AUDIENCE, claim=claim, require_signature=True).signature_verified
    finally:
        identity._VERIFIERS.pop("aws")
    assert seen and seen[0]  # the verifier was handed the PKCS#7 signature IMDS served
