"""Subnets per location: a subnet lives in one region's virtual network and ARM refuses a NIC in another
region (InvalidResourceReference), so `subnet_id` is a map location -> subnet, a single id is accepted
only for a single location, and a location without a subnet is not offered."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from providers.azure import AzureConfig, AzureProvider
from providers.base import OfferQuery
from providers.errors import InvalidRequest
from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.conftest import StaticCredential, make_config
from tests.providers.azure.fake_arm import FakeArm
from tests.providers.azure.helpers import offer, spec

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests admin@example"


def _config(arm: FakeArm, **extra: Any) -> AzureConfig:
    raw = {"subscription_id": data.SUBSCRIPTION, "resource_group": data.RESOURCE_GROUP, "base_url": arm.url,
           "prices_url": f"{arm.url}/api/retail/prices", "polling_interval": 0, "ssh_public_key": KEY, **extra}
    return AzureConfig.from_dict(raw)


def _provider(config: AzureConfig) -> AzureProvider:
    return AzureProvider(config, credential=StaticCredential(), sleep=lambda _: None)


def _nic_subnet(arm: FakeArm, vm: str) -> str:
    nic = arm.state.nics[f"{vm}-nic"]
    return str(nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"])


def test_each_location_launches_into_its_own_subnet(arm: FakeArm) -> None:
    provider = _provider(make_config(arm))  # subnet_id: {eastus: ..., westus: ..., westeurope: ...}
    for zone in ("eastus-1", "westus"):
        info = provider.launch(spec(offer(provider, zone=zone)))
        assert _nic_subnet(arm, info.id) == data.SUBNETS[info.region]


def test_arm_refuses_a_nic_in_another_regions_subnet(arm: FakeArm) -> None:
    """The fake is faithful: an eastus subnet for a westus NIC is InvalidResourceReference."""
    config = dataclasses.replace(make_config(arm), subnet_id={"westus": data.SUBNETS["eastus"]})
    provider = _provider(config)
    with pytest.raises(InvalidRequest) as caught:
        provider.launch(spec(offer(provider, zone="westus")))
    assert caught.value.raw_code == "InvalidResourceReference" and "same region" in str(caught.value)


def test_only_locations_with_a_subnet_are_offered(arm: FakeArm) -> None:
    subnets = {"eastus": data.SUBNETS["eastus"], "westeurope": data.SUBNETS["westeurope"]}
    provider = _provider(_config(arm, locations=["eastus", "westus", "westeurope"], subnet_id=subnets))
    assert {o.region for o in provider.list_offers(OfferQuery())} == {"eastus", "westeurope"}
    assert provider.list_offers(OfferQuery(regions=("westus",))) == []


def test_a_map_alone_names_the_locations(arm: FakeArm) -> None:
    config = _config(arm, subnet_id={"westus": data.SUBNETS["westus"]})
    assert config.locations == ("westus",) and config.subnet_for("westus") == data.SUBNETS["westus"]


def test_a_single_subnet_is_accepted_for_a_single_location(arm: FakeArm) -> None:
    config = _config(arm, locations=["westus"], subnet_id=data.SUBNETS["westus"])
    assert config.subnet_id == {"westus": data.SUBNETS["westus"]}
    provider = _provider(config)
    info = provider.launch(spec(offer(provider, zone="westus")))
    assert _nic_subnet(arm, info.id) == data.SUBNETS["westus"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"locations": ["eastus", "westus"], "subnet_id": data.SUBNETS["eastus"]},
         "subnet_id is one subnet, which lives in one region, but locations are ['eastus', 'westus']"),
        ({"locations": ["eastus"], "subnet_id": {"eastus": data.SUBNETS["eastus"], "westus": data.SUBNETS["westus"]}},
         "subnet_id names ['westus'], which are not in locations ['eastus']"),
        ({"locations": ["eastus"], "subnet_id": {"eastus": "default"}}, "not a subnet's ARM id"),
        ({"locations": ["eastus"], "subnet_id": ["a"]}, "must be a subnet id or a map"),
    ],
)
def test_subnet_settings_that_cannot_work_are_refused_at_config_time(
    arm: FakeArm, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match="subnet_id") as caught:
        _config(arm, **extra)
    assert message in str(caught.value)
