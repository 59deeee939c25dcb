"""Session-scoped fake ARM server (one per test session: starting servers and importing the SDK is the
slow part) and a fresh provider per test, wired to it through the real SDK clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from providers.azure import AzureConfig, AzureProvider
from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.fake_arm import STATIC_TOKEN, FakeArm

SHARED_CATALOG = (
    Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "catalog" / "azure" / "vms.csv"
)


class StaticCredential:
    """A TokenCredential that always returns the fake's accepted token (no identity service)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(STATIC_TOKEN, 4102444800)


@pytest.fixture(scope="session")
def fake_arm() -> Iterator[FakeArm]:
    server = FakeArm().start()
    yield server
    server.stop()


@pytest.fixture
def arm(fake_arm: FakeArm) -> FakeArm:
    """The session's fake, emptied for this test."""
    fake_arm.reset()
    return fake_arm


@pytest.fixture
def sleeps() -> list[float]:
    """Delays the provider asked to sleep for (it never really sleeps in tests)."""
    return []


def make_config(fake: FakeArm, **overrides: Any) -> AzureConfig:
    values: dict[str, Any] = {
        "subscription_id": data.SUBSCRIPTION,
        "resource_group": data.RESOURCE_GROUP,
        "locations": ["eastus", "westus", "westeurope"],
        "subnet_id": data.SUBNETS,
        "base_url": fake.url,
        "prices_url": f"{fake.url}/api/retail/prices",
        "polling_interval": 0,
        "ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests spotwise@test",
        **overrides,
    }
    return AzureConfig.from_dict(values)


@pytest.fixture
def provider(arm: FakeArm, sleeps: list[float]) -> AzureProvider:
    return AzureProvider(make_config(arm), credential=StaticCredential(), sleep=sleeps.append)
