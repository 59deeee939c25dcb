"""The Azure launch preflight against the fake ARM: the SSH key, the image, each location's subnet, the sizes'
restrictions per zone and the vCPU quotas; each broken piece is one failing row with its fix."""

from __future__ import annotations

import dataclasses

from providers.azure import AzureProvider
from providers.base import PreflightRow
from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.conftest import StaticCredential, make_config
from tests.providers.azure.fake_arm import FakeArm

API_URL = "https://spotwise.example.com"


def _failing(rows: list[PreflightRow]) -> list[PreflightRow]:
    return [r for r in rows if not r.ok]


def _provider(arm: FakeArm, **overrides: object) -> AzureProvider:
    return AzureProvider(make_config(arm, **overrides), credential=StaticCredential(), sleep=lambda _: None)


def test_a_working_config_passes_and_creates_nothing(provider: AzureProvider, arm: FakeArm) -> None:
    rows = provider.preflight(API_URL)
    assert not _failing(rows), _failing(rows)
    checks = {(r.check, r.region) for r in rows}
    assert {("ssh key", "-"), ("image", "eastus"), ("subnet", "westeurope"), ("quota spot", "eastus")} <= checks
    assert {r.region for r in rows if r.check == "sizes"} >= {"eastus-1", "eastus-3", "westus"}
    assert not [m for m, _ in arm.state.requests if m in ("PUT", "DELETE", "PATCH", "POST")]


def test_cloud_calls_off_reads_only_the_config(provider: AzureProvider, arm: FakeArm) -> None:
    rows = provider.preflight(API_URL, cloud_calls=False)
    assert {r.check for r in rows} == {"ssh key", "subnet configured"} and not _failing(rows)
    assert not arm.state.requests


def test_no_ssh_key_is_one_failing_row(provider: AzureProvider) -> None:
    provider.config = dataclasses.replace(provider.config, ssh_public_key="")
    (bad,) = _failing(provider.preflight(API_URL))
    assert bad.check == "ssh key" and "set azure.ssh_public_key" in bad.fix


def test_a_location_without_a_subnet_is_one_failing_row(arm: FakeArm) -> None:
    subnets = {loc: s for loc, s in data.SUBNETS.items() if loc != "westus"}
    (bad,) = _failing(_provider(arm, subnet_id=subnets).preflight(API_URL))
    assert (bad.check, bad.region) == ("subnet configured", "westus") and "add `westus:" in bad.fix


def test_a_subnet_that_does_not_exist_is_one_failing_row(arm: FakeArm) -> None:
    arm.state.subnets.discard(data.SUBNETS["westus"].lower())
    (bad,) = _failing(_provider(arm).preflight(API_URL))
    assert (bad.check, bad.region) == ("subnet", "westus") and "spotwise-westus/default does not exist" in bad.fix


def test_an_image_reference_that_does_not_exist_is_one_failing_row(arm: FakeArm) -> None:
    image = {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "1804"}
    rows = _provider(arm, image=image, locations=["eastus"], subnet_id={"eastus": data.SUBNETS["eastus"]}).preflight(
        API_URL)
    (bad,) = _failing(rows)
    assert (bad.check, bad.region) == ("image", "eastus")
    assert "microsoft-dsvm:ubuntu-hpc:1804:latest not found" in bad.fix


def test_an_exhausted_spot_quota_is_one_failing_row(arm: FakeArm) -> None:
    arm.state.quota_limits[("westeurope", "lowPriorityCores")] = 2  # below the smallest GPU size's vCPUs
    (bad,) = _failing(_provider(arm).preflight(API_URL))
    assert (bad.check, bad.region) == ("quota spot", "westeurope") and "lowPriorityCores" in bad.fix
