"""Subnetworks are regional: one per region, only regions that have one offered, and the fake refuses a VM given
another region's subnetwork (as GCE does)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from providers.base import OfferQuery
from providers.errors import CapacityError, ErrorScope, InvalidRequest
from providers.gcp.network import parse_subnetworks
from providers.gcp.settings import GCPSettings
from tests.providers.gcp.fake_gce import FakeGCE
from tests.providers.gcp.helpers import pick, spec_for

TWO_REGIONS = ["us-central1", "europe-west4"]


def test_one_value_with_one_region_is_that_regions() -> None:
    settings = GCPSettings.parse({"regions": ["europe-west4"], "subnetwork": "gpu-subnet"})
    assert settings.subnetwork == {"europe-west4": "regions/europe-west4/subnetworks/gpu-subnet"}
    url = "https://www.googleapis.com/compute/v1/projects/p/regions/us-central1/subnetworks/a"
    assert GCPSettings.parse({"zones": ["us-central1-b"], "subnetwork": url}).subnetwork == {"us-central1": url}
    assert GCPSettings.parse({}).subnetwork == {}


@pytest.mark.parametrize(("config", "message"), [
    ({"regions": TWO_REGIONS, "subnetwork": "gpu-subnet"}, "one value is given but the provider launches in "
                                                           "europe-west4, us-central1"),
    ({"subnetwork": "gpu-subnet"}, "every region of the project (no regions configured)"),
    ({"regions": ["us-central1"], "subnetwork": "regions/europe-west4/subnetworks/x"},
     "is in region europe-west4, but it is given for us-central1"),
    ({"regions": TWO_REGIONS, "subnetwork": {"us-east1": "x"}}, "given for us-east1, which the provider does not"),
    ({"subnetwork": {"us-central1": ""}}, "must be a non-empty name or URL"),
    ({"subnetwork": {"us-central1": "global/networks/default"}}, "is not a subnetwork name or a"),
    ({"subnetwork": ["a", "b"]}, "must be a name, a URL or a map region -> subnetwork, not list"),
])
def test_a_subnetwork_that_cannot_be_right_is_refused_at_config_time(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match="gcp subnetwork: ") as caught:
        GCPSettings.parse(config)
    assert message in str(caught.value)


def test_a_map_normalises_names_to_their_region() -> None:
    assert parse_subnetworks({"us-central1": "a", "europe-west4": "projects/p/regions/europe-west4/subnetworks/b"},
                             set(TWO_REGIONS)) == {"us-central1": "regions/us-central1/subnetworks/a",
                                                   "europe-west4": "projects/p/regions/europe-west4/subnetworks/b"}


def test_only_regions_with_a_subnetwork_are_offered(make_provider: Any) -> None:
    provider = make_provider(subnetwork={"europe-west4": "eu-gpus"})  # no regions: every zone of the project
    assert {o.region for o in provider.list_offers(OfferQuery())} == {"europe-west4"}
    assert provider.discovery.zones() == ["europe-west4-a"]


def test_each_region_launches_into_its_own_subnetwork(make_provider: Any, gce: FakeGCE) -> None:
    provider = make_provider(regions=TWO_REGIONS, subnetwork={"us-central1": "us-gpus", "europe-west4": "eu-gpus"})
    for zone in ("us-central1-a", "europe-west4-a"):
        provider.launch(spec_for(pick(provider, instance_type="n1-standard-8+nvidia-tesla-t4:1", zone=zone)))
    assert [body["networkInterfaces"][0]["subnetwork"] for body in gce.inserts] == [
        "regions/us-central1/subnetworks/us-gpus", "regions/europe-west4/subnetworks/eu-gpus"]
    assert len(gce.instances) == 2


def test_an_offer_in_a_region_without_a_subnetwork_moves_placement_on(make_provider: Any, gce: FakeGCE) -> None:
    """An offer not listed by this provider (an imported catalog row) in a region with no subnetwork: a capacity
    error for the whole region, so placement tries elsewhere; nothing is sent to GCE."""
    offer = pick(make_provider(), instance_type="n1-standard-8+nvidia-tesla-t4:1", zone="europe-west4-a")
    provider = make_provider(regions=TWO_REGIONS, subnetwork={"us-central1": "us-gpus"})
    with pytest.raises(CapacityError, match="no gcp subnetwork is configured for region europe-west4") as caught:
        provider.launch(spec_for(offer))
    assert caught.value.scope is ErrorScope.REGION and gce.inserts == []


def test_the_fake_refuses_another_regions_subnetwork(make_provider: Any, gce: FakeGCE) -> None:
    """What a single subnetwork used in every region did: GCE answers 400, the adapter fails the request."""
    provider = make_provider(regions=["us-central1"], subnetwork="regions/us-central1/subnetworks/us-gpus")
    offer = pick(make_provider(), instance_type="n1-standard-8+nvidia-tesla-t4:1", zone="europe-west4-a")
    # past the config check, as the old single value was: the one subnetwork sent to another region's VM
    elsewhere = {"europe-west4": "regions/us-central1/subnetworks/us-gpus"}
    provider.settings = replace(provider.settings, subnetwork=elsewhere)
    with pytest.raises(InvalidRequest, match="Subnetwork should belong to the instance's region"):
        provider.launch(spec_for(offer))
