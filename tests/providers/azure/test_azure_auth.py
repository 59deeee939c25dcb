"""The unmodified production path: DefaultAzureCredential (managed identity) and ARM over TLS.

No static credential and no http override here: the token comes from an App Service style
managed-identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER, plain http on loopback as in App
Service), and ARM is served over TLS with a certificate from a throwaway CA (`trustme`), trusted
through the `connection_verify` config key.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

from providers.azure import AzureProvider
from providers.azure.clients import LoopbackHttpAuthenticationPolicy, make_clients
from providers.base import InstanceState, OfferQuery
from providers.registry import create_provider
from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.conftest import StaticCredential
from tests.providers.azure.fake_arm import IDENTITY_SECRET, FakeArm
from tests.providers.azure.helpers import spec

_ENV_TO_CLEAR = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
)


@pytest.fixture
def tls_arm(arm: FakeArm, tmp_path: Path) -> Iterator[tuple[FakeArm, Path]]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = FakeArm(tls=context, identity=arm).start()
    yield server, ca_file
    server.stop()


def test_default_credential_via_managed_identity_over_tls(
    tls_arm: tuple[FakeArm, Path], arm: FakeArm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, ca_file = tls_arm
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{arm.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_SECRET)
    provider = create_provider(
        "azure",
        {
            "subscription_id": data.SUBSCRIPTION,
            "resource_group": data.RESOURCE_GROUP,
            "locations": ["eastus"],
            "subnet_id": data.SUBNET_ID,
            "base_url": server.url,
            "prices_url": f"{server.url}/api/retail/prices",
            "connection_verify": str(ca_file),
            "polling_interval": 0,
            "ssh_public_key": "ssh-ed25519 AAAA test",
        },
        tmp_path,
    )
    assert isinstance(provider, AzureProvider)
    assert server.url.startswith("https://")
    policy = provider.clients.compute._config.authentication_policy
    assert type(policy) is ARMChallengeAuthenticationPolicy  # the stock policy, https enforced

    assert provider.check_credentials().account == data.SUBSCRIPTION
    offer = next(
        o for o in provider.list_offers(OfferQuery(gpu_model="T4", spot=True)) if o.zone == "eastus-1"
    )
    info = provider.launch(spec(offer))
    assert info.state is InstanceState.RUNNING
    provider.terminate([info.id])
    assert server.state.vms == {} and server.state.nics == {}
    assert arm.count("GET", "/msi/token") >= 1  # the token really came from the identity endpoint
    assert all(token.startswith("mi-") for token in arm.state.tokens - {"fake-arm-token"})


def test_plain_http_is_refused_for_a_remote_host() -> None:
    with pytest.raises(ValueError, match="loopback"):
        make_clients(StaticCredential(), data.SUBSCRIPTION, base_url="http://management.example.com")


def test_plain_http_to_loopback_uses_the_override_policy(arm: FakeArm) -> None:
    clients = make_clients(StaticCredential(), data.SUBSCRIPTION, base_url=arm.url, polling_interval=0)
    assert isinstance(clients.compute._config.authentication_policy, LoopbackHttpAuthenticationPolicy)
    assert len(list(clients.compute.virtual_machine_sizes.list("eastus"))) > 0
