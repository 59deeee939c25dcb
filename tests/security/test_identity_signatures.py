"""The clouds' signatures over identity proofs, verified with real cryptography end to end.

Real keys and certificates made in the test (tests/agent/cloud_keys.py); the fake metadata servers sign the proofs
as each cloud does, the agent's own code reads them over HTTP, Google's JWKS is a real local HTTP server, and the
verifiers are the daemon's own, built from its settings (orchestrator/identity/configure.py). Per cloud: a signed
proof is accepted; a tampered field, another key's signature, an expired token are refused; an unknown key id makes
the daemon fetch the JWKS again; with `bootstrap_require_signature` an unsigned proof is refused. Then the same
through the real exchange API (403 JSON), and the daemon's refusal to start without what it needs.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from orchestrator.agent.identity import identity_proof
from orchestrator.config import Settings
from orchestrator.identity import Expected, IdentityRefused, SignatureUnavailable, SignatureVerifier, verify
from orchestrator.identity.configure import build_verifiers
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import create_attempt, record_instance
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.runtime import Runtime, StartupError, build_runtime
from orchestrator.store.db import transaction
from orchestrator.store.tables import JobEvent
from orchestrator.store.types import utcnow
from orchestrator.tokens import bootstrap_token
from providers.base import InstanceInfo, InstanceState, Offer
from providers.gcp.identity_keys import JwksCache
from providers.gcp.signature import gcp_verifier
from tests.agent.cloud_keys import CloudKeys, certificate, common_name, default_keys, make_keys, pem, rsa_key
from tests.agent.fake_jwks import JwksState, fake_jwks_server
from tests.agent.fake_metadata import MetadataState, fake_metadata_server
from tests.unit.test_bootstrap_wheel import INSTANCE, _attempt, serve

AUDIENCE = "https://spotwise.example.com:8470"
CASES = {  # cloud -> what the daemon recorded at launch
    "aws": Expected("aws", "i-0123456789abcdef0", "i-0123456789abcdef0", "us-east-1", "us-east-1a", "123456789012"),
    "gcp": Expected("gcp", "us-central1-a/sw-j-1-1", "4242424242424242", "us-central1", "us-central1-a", "proj-1"),
    "azure": Expected("azure", "sw-j-1-1", "3f2b5c1e-9a51-4c8e-8d62-0f0e5e7d7a11", "eastus", "", "sub-1"),
}


@pytest.fixture(scope="module")
def other_keys() -> CloudKeys:
    """Another set of keys: what a forger who is not the cloud signs with."""
    return make_keys("forger")


@pytest.fixture
def jwks() -> Iterator[tuple[str, JwksState]]:
    keys = default_keys()
    state = JwksState(keys={keys.gcp_kid: keys.gcp_key})
    with fake_jwks_server(state) as url:
        yield url, state


@pytest.fixture
def metadata() -> Iterator[tuple[str, MetadataState]]:
    with fake_metadata_server() as served:
        yield served


def _settings(tmp_path: Path, jwks_url: str, **extra: Any) -> Settings:
    keys = default_keys()
    tmp_path.mkdir(parents=True, exist_ok=True)
    ca_file = tmp_path / "azure-ca.pem"
    ca_file.write_text(pem(keys.azure_ca))
    return Settings(home=tmp_path / "home", public_url=AUDIENCE, providers={
        "local": {}, "gcp": {"identity_jwks_url": jwks_url},
        "aws": {"identity_certificates": {"us-east-1": pem(keys.aws_cert)}},
        "azure": {"identity_ca_certificates": [str(ca_file)]}}, **extra)


def _verifiers(tmp_path: Path, jwks_url: str) -> dict[str, SignatureVerifier]:
    return build_verifiers(_settings(tmp_path, jwks_url))


def _read(state: MetadataState, url: str, cloud: str, claim: str) -> dict[str, Any]:
    want = CASES[cloud]
    state.set_identity(cloud, want.uid, region=want.region, zone=want.zone, account=want.account)
    return identity_proof(f"{cloud}:{url}", audience=AUDIENCE, claim=claim)


def _check(proof: dict[str, Any], cloud: str, claim: str, verifiers: dict[str, SignatureVerifier],
           require: bool = False) -> bool:
    return verify(proof, CASES[cloud], audience=AUDIENCE, claim=claim, verifiers=verifiers,
                  require_signature=require).signature_verified


def _tampered(proof: dict[str, Any], cloud: str) -> dict[str, Any]:
    """The proof with one field changed after signing: what a forger who copied a real proof would do."""
    proof = json.loads(json.dumps(proof))
    if cloud == "aws":  # same instance, another account: the fields still match the record (no account set)
        proof["document"] = proof["document"].replace('"g5.xlarge"', '"p5.48xlarge"')
    elif cloud == "gcp":
        head, body, sig = proof["jwt"].split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claims["exp"] += 86400
        proof["jwt"] = ".".join([head, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(),
                                 sig])
    else:  # flip the content inside the PKCS#7: sku, which the daemon does not compare
        der = base64.b64decode(proof["document"]["signature"])
        proof["document"]["signature"] = base64.b64encode(der.replace(b"22_04-lts", b"24_04-lts")).decode()
    return proof


@pytest.mark.parametrize("cloud", sorted(CASES))
def test_a_signed_proof_is_accepted_and_a_tampered_or_foreign_one_refused(
        cloud: str, metadata: tuple[str, MetadataState], jwks: tuple[str, JwksState], other_keys: CloudKeys,
        tmp_path: Path) -> None:
    url, state = metadata
    verifiers = _verifiers(tmp_path, jwks[0])
    claim = secrets.token_urlsafe(32)
    proof = _read(state, url, cloud, claim)
    assert _check(proof, cloud, claim, verifiers, require=True) is True

    tampered = _tampered(proof, cloud)
    assert tampered != proof
    with pytest.raises(IdentityRefused, match="signature"):
        _check(tampered, cloud, claim, verifiers)

    state.keys = dataclasses.replace(other_keys, gcp_kid=default_keys().gcp_kid)  # same kid, another key
    with pytest.raises(IdentityRefused, match="signature|signed by|chain"):
        _check(_read(state, url, cloud, claim), cloud, claim, verifiers)


def test_an_azure_signer_is_trusted_through_an_embedded_intermediate_and_only_by_its_name_and_ca(
        metadata: tuple[str, MetadataState], jwks: tuple[str, JwksState], other_keys: CloudKeys,
        tmp_path: Path) -> None:
    url, state = metadata
    keys, claim = default_keys(), secrets.token_urlsafe(32)
    verifiers = _verifiers(tmp_path, jwks[0])
    mid_key, signer_key = rsa_key(), rsa_key()
    mid = certificate("Test Microsoft Azure RSA TLS Issuing CA", mid_key, ca=True,
                      issuer=(common_name(keys.azure_ca), keys.azure_ca_key))
    signer = certificate("eastus.metadata.azure.com", signer_key,
                         issuer=("Test Microsoft Azure RSA TLS Issuing CA", mid_key))
    state.keys = dataclasses.replace(keys, azure_key=signer_key, azure_cert=signer, azure_intermediates=(mid,))
    assert _check(_read(state, url, "azure", claim), "azure", claim, verifiers)  # root -> intermediate -> signer

    state.keys = dataclasses.replace(keys, azure_key=signer_key, azure_cert=signer)  # intermediate left out
    with pytest.raises(IdentityRefused, match="does not chain"):
        _check(_read(state, url, "azure", claim), "azure", claim, verifiers)

    impostor = certificate("metadata.azure.com.attacker.example", signer_key,
                           issuer=(common_name(keys.azure_ca), keys.azure_ca_key))
    state.keys = dataclasses.replace(keys, azure_key=signer_key, azure_cert=impostor)
    with pytest.raises(IdentityRefused, match="not by metadata.azure.com"):
        _check(_read(state, url, "azure", claim), "azure", claim, verifiers)

    state.keys = other_keys  # a metadata.azure.com certificate, but from a CA the daemon does not trust
    with pytest.raises(IdentityRefused, match="does not chain"):
        _check(_read(state, url, "azure", claim), "azure", claim, verifiers)


def test_an_expired_gcp_token_is_refused(metadata: tuple[str, MetadataState], jwks: tuple[str, JwksState],
                                         tmp_path: Path) -> None:
    url, state = metadata
    state.gcp_token_lifetime_s = -60
    claim = secrets.token_urlsafe(32)
    proof = _read(state, url, "gcp", claim)
    with pytest.raises(IdentityRefused, match="expired"):
        verify(proof, CASES["gcp"], audience=AUDIENCE, claim=claim, verifiers=_verifiers(tmp_path, jwks[0]))
    with pytest.raises(IdentityRefused, match="expired"):  # the verifier itself checks exp too
        _verifiers(tmp_path, jwks[0])["gcp"](proof, CASES["gcp"])


def test_the_jwks_is_cached_and_fetched_again_for_an_unknown_key_id(
        metadata: tuple[str, MetadataState], jwks: tuple[str, JwksState], tmp_path: Path) -> None:
    url, state = metadata
    jwks_url, served = jwks
    verifiers = _verifiers(tmp_path, jwks_url)  # as the daemon builds it: refetches rate limited
    claim = secrets.token_urlsafe(32)
    for _ in range(3):
        assert _check(_read(state, url, "gcp", claim), "gcp", claim, verifiers)
    assert served.fetches == 1  # cached for the response's max-age

    eager = {"gcp": gcp_verifier(JwksCache(jwks_url, min_refetch_s=0), AUDIENCE)}  # no rate limit
    assert _check(_read(state, url, "gcp", claim), "gcp", claim, eager) and served.fetches == 2

    rotated = make_keys("rotated")  # Google rotates: a new kid the cached sets do not hold
    served.keys[rotated.gcp_kid] = rotated.gcp_key
    state.keys = rotated
    proof = _read(state, url, "gcp", claim)
    with pytest.raises(IdentityRefused, match="test-kid-rotated"):  # within min_refetch_s of the last fetch
        _check(proof, "gcp", claim, verifiers)
    assert served.fetches == 2
    assert _check(proof, "gcp", claim, eager) and served.fetches == 3  # exactly one refetch
    assert _check(proof, "gcp", claim, eager) and served.fetches == 3

    state.keys = dataclasses.replace(rotated, gcp_kid="never-published")
    with pytest.raises(IdentityRefused, match="never-published"):
        _check(_read(state, url, "gcp", claim), "gcp", claim, eager)
    assert served.fetches == 4  # one refetch, then refused


def test_an_unreachable_jwks_is_a_retry_not_a_refusal(metadata: tuple[str, MetadataState],
                                                      tmp_path: Path) -> None:
    url, state = metadata
    claim = secrets.token_urlsafe(32)
    verifiers = _verifiers(tmp_path, "http://127.0.0.1:9/oauth2/v3/certs")
    with pytest.raises(SignatureUnavailable):
        _check(_read(state, url, "gcp", claim), "gcp", claim, verifiers)


@pytest.mark.parametrize("cloud", sorted(CASES))
def test_with_require_signature_an_unsigned_proof_is_refused(
        cloud: str, metadata: tuple[str, MetadataState], jwks: tuple[str, JwksState], tmp_path: Path) -> None:
    url, state = metadata
    verifiers = _verifiers(tmp_path, jwks[0])
    claim = secrets.token_urlsafe(32)
    if cloud == "gcp":  # a VM without a service account has no token to sign
        state.gcp_service_account = False
    proof = _read(state, url, cloud, claim)
    if cloud == "aws":
        proof.pop("signature")
    elif cloud == "azure":  # an unsigned copy of the attested content
        proof["document"]["signature"] = ""
    if cloud != "azure":  # the fields still match: accepted without the requirement, signature not verified
        assert _check(proof, cloud, claim, verifiers) is False
    with pytest.raises(IdentityRefused):
        _check(proof, cloud, claim, verifiers, require=True)


def test_the_exchange_verifies_the_aws_signature_and_answers_403_json_for_a_bad_one(
        metadata: tuple[str, MetadataState], jwks: tuple[str, JwksState], tmp_path: Path) -> None:
    imds_url, state = metadata
    state.set_identity("aws", INSTANCE, region="us-east-1", zone="us-east-1a")
    with serve(_settings(tmp_path, jwks[0], bootstrap_require_signature=True)) as (rt, url):
        job_id, attempt_id = _attempt(rt, "true")
        token = bootstrap_token(rt.agent_secret, attempt_id)

        def post(proof: dict[str, Any], claim: str) -> httpx.Response:
            return httpx.post(f"{url}/v1/agent/bootstrap", timeout=10,
                              json={"bootstrap_token": token, "claim": claim, "identity": proof})

        for bad in ("tampered", "unsigned", "forged"):
            claim = secrets.token_urlsafe(32)
            proof = identity_proof(f"aws:{imds_url}", audience=url, claim=claim)
            if bad == "tampered":
                proof = _tampered(proof, "aws")
            elif bad == "unsigned":
                proof["signature"] = ""
            else:  # a document that names the instance, signed with the forger's own key
                forged = make_keys("x").aws_key.sign(proof["document"].encode(), padding.PKCS1v15(), hashes.SHA256())
                proof["signature"] = base64.b64encode(forged).decode()
            answer = post(proof, claim)
            assert answer.status_code == 403, (bad, answer.text)
            assert answer.json()["error"]["code"] == "forbidden" and "agent_token" not in answer.text

        claim = secrets.token_urlsafe(32)
        good = post(identity_proof(f"aws:{imds_url}", audience=url, claim=claim), claim)
        assert good.status_code == 200, good.text
        with transaction(rt.sessions) as s:
            events = [e.reason for e in s.query(JobEvent).filter(JobEvent.job_id == job_id,
                                                                   JobEvent.kind == "agent_bootstrap")]
        assert len(events) == 1 and "signature verified" in events[0]


def test_without_certificates_the_exchange_checks_fields_and_says_so(
        metadata: tuple[str, MetadataState], tmp_path: Path) -> None:
    imds_url, state = metadata
    state.set_identity("aws", INSTANCE, region="us-east-1", zone="us-east-1a")
    settings = Settings(home=tmp_path / "home", providers={"local": {}, "aws": {}})
    with serve(settings) as (rt, url):
        job_id, attempt_id = _attempt(rt, "true")
        claim = secrets.token_urlsafe(32)
        answer = httpx.post(f"{url}/v1/agent/bootstrap", timeout=10, json={
            "bootstrap_token": bootstrap_token(rt.agent_secret, attempt_id), "claim": claim,
            "identity": identity_proof(f"aws:{imds_url}", audience=url, claim=claim)})
        assert answer.status_code == 200, answer.text
        with transaction(rt.sessions) as s:
            events = [e.reason for e in s.query(JobEvent).filter(JobEvent.job_id == job_id,
                                                                   JobEvent.kind == "agent_bootstrap")]
        assert "signature not verified: no signature verifier is configured for aws" in events[0]


@pytest.mark.parametrize(("provider", "section", "setting"), [
    ("aws", {}, "providers.aws.identity_certificates"),
    ("gcp", {"identity_jwks_url": ""}, "providers.gcp.identity_jwks_url"),
    ("azure", {}, "providers.azure.identity_ca_certificates")])
def test_require_signature_without_keys_stops_the_daemon_at_start(
        provider: str, section: dict[str, Any], setting: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", providers={"local": {}, provider: section},
                        bootstrap_require_signature=True)
    with pytest.raises(StartupError, match=setting.replace(".", r"\.")) as refused:
        build_runtime(settings, with_providers=False)
    assert "bootstrap_require_signature" in str(refused.value)
    if provider == "aws":
        assert "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/regions-certs.html" in str(refused.value)


def test_a_certificate_setting_that_cannot_load_stops_the_daemon(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "aws-rsa.pem").write_text(pem(default_keys().aws_cert))  # a relative path is under the home
    rt = build_runtime(Settings(home=home, providers={"local": {}, "aws": {
        "identity_certificates": {"default": "aws-rsa.pem"}}}, bootstrap_require_signature=True),
        with_providers=False)
    assert "aws" in rt.identity_verifiers
    rt.close()
    for section in ({"identity_certificates": {"us-east-1": str(tmp_path / "missing.pem")}},
                    {"identity_certificates": {"default": "-----BEGIN CERTIFICATE-----\nnope\n"}}):
        with pytest.raises(StartupError, match="identity_certificates"):
            build_runtime(Settings(home=tmp_path / "home", providers={"local": {}, "aws": section}),
                          with_providers=False)


def _gcp_attempt(rt: Runtime, uid: str) -> tuple[str, str]:
    """A job whose attempt runs on a recorded GCE instance (numeric id `uid`), as the launcher leaves it."""
    offer = Offer(cloud="gcp", region="us-central1", zone="us-central1-a", instance_type="g2-standard-4",
                  gpu_model="L4", gpu_count=1, vcpus=4, memory_gb=16, spot=True, price_per_hour=0.3,
                  price_fetched_at=utcnow())
    with transaction(rt.sessions) as s:
        job = submit(s, JobSpec(name="boot-gcp", run="true"))
        attempt = create_attempt(s, job, offer)
        T.start_provisioning(s, job, attempt.id, "test")
        record_instance(s, attempt, InstanceInfo(
            id="us-central1-a/sw-boot", uid=uid, provider="gcp", region="us-central1", zone="us-central1-a",
            instance_type="g2-standard-4", spot=True, state=InstanceState.RUNNING, price_per_hour=0.3,
            launched_at=utcnow()))
        return job.id, attempt.id


def test_a_gcp_exchange_verifies_the_token_and_waits_out_an_unreachable_jwks(
        metadata: tuple[str, MetadataState], jwks: tuple[str, JwksState], tmp_path: Path) -> None:
    imds_url, state = metadata
    want = CASES["gcp"]
    state.set_identity("gcp", want.uid, zone=want.zone)
    for jwks_url, status in (("http://127.0.0.1:9/oauth2/v3/certs", 503), (jwks[0], 200)):
        with serve(_settings(tmp_path / str(status), jwks_url)) as (rt, url):
            job_id, attempt_id = _gcp_attempt(rt, want.uid)
            claim = secrets.token_urlsafe(32)
            answer = httpx.post(f"{url}/v1/agent/bootstrap", timeout=10, json={
                "bootstrap_token": bootstrap_token(rt.agent_secret, attempt_id), "claim": claim,
                "identity": identity_proof(f"gcp:{imds_url}", audience=AUDIENCE, claim=claim)})
            assert answer.status_code == status, answer.text
            if status == 503:  # Google unreachable: the agent retries (orchestrator/agent/session.py), no alert
                assert answer.headers["Retry-After"] and "cannot be checked" in answer.json()["error"]["message"]
                with transaction(rt.sessions) as s:
                    assert not list(s.query(JobEvent).filter(JobEvent.job_id == job_id, JobEvent.kind == "security"))
            else:
                with transaction(rt.sessions) as s:
                    events = [e.reason for e in s.query(JobEvent).filter(JobEvent.job_id == job_id,
                                                                           JobEvent.kind == "agent_bootstrap")]
                assert len(events) == 1 and "signature verified" in events[0]
