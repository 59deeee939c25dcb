"""The GCP launch preflight against the fake Compute Engine: every referenced resource is read; a missing one, a
region without a subnetwork or an exhausted GPU quota is one failing row with its fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from providers.base import PreflightRow
from tests.providers.gcp.fake_gce import FakeGCE

API_URL = "https://spotwise.example.com"


def _failing(rows: list[PreflightRow]) -> list[PreflightRow]:
    return [r for r in rows if not r.ok]


def test_a_working_config_passes_and_reads_each_resource_the_insert_names(
    make_provider: Callable[..., Any], gce: FakeGCE
) -> None:
    rows = make_provider(regions=["us-central1", "europe-west4"],
                         subnetwork={"us-central1": "default", "europe-west4": "default"}).preflight(API_URL)
    assert not _failing(rows), _failing(rows)
    assert {"credentials", "image", "network", "subnetwork", "subnetwork exists"} <= {r.check for r in rows}
    assert {r.region for r in rows if r.check.startswith("quota ")} == {"us-central1", "europe-west4"}
    assert gce.requests["images.getFromFamily"] == 1 and gce.requests["networks.get"] == 1
    assert gce.requests["subnetworks.get"] == 2 and gce.requests["instances.insert"] == 0


def test_cloud_calls_off_reads_only_the_config(make_provider: Callable[..., Any], gce: FakeGCE) -> None:
    provider = make_provider(regions=["us-central1"], subnetwork="default")
    before = sum(gce.requests.values())
    rows = provider.preflight(API_URL, cloud_calls=False)
    assert [(r.check, r.region, r.ok) for r in rows] == [("subnetwork", "us-central1", True)]
    assert sum(gce.requests.values()) == before


def test_a_region_without_a_subnetwork_is_one_failing_row(make_provider: Callable[..., Any]) -> None:
    rows = make_provider(regions=["us-central1", "europe-west4"],
                         subnetwork={"us-central1": "default"}).preflight(API_URL)
    (bad,) = _failing(rows)
    assert (bad.check, bad.region) == ("subnetwork", "europe-west4")
    assert "add `europe-west4: NAME` to gcp.subnetwork" in bad.fix


def test_a_subnetwork_that_does_not_exist_is_one_failing_row(make_provider: Callable[..., Any]) -> None:
    rows = make_provider(regions=["us-central1"], subnetwork="spotwise-typo").preflight(API_URL)
    (bad,) = _failing(rows)
    assert (bad.check, bad.region) == ("subnetwork", "us-central1") and "spotwise-typo does not exist" in bad.fix


def test_a_missing_image_family_is_one_failing_row(make_provider: Callable[..., Any]) -> None:
    rows = make_provider(image_family="common-cu999-debian-13").preflight(API_URL)
    (bad,) = _failing(rows)
    assert bad.check == "image" and "common-cu999-debian-13 not found" in bad.fix and "gcp.image_family" in bad.fix


def test_an_exhausted_gpu_quota_is_one_failing_row(make_provider: Callable[..., Any], gce: FakeGCE) -> None:
    gce.quotas["europe-west4"] = {"NVIDIA_T4_GPUS": (4.0, 4.0)}  # every T4 in use, no preemptible quota granted
    rows = make_provider().preflight(API_URL)
    (bad,) = _failing(rows)
    assert (bad.check, bad.region) == ("quota T4", "europe-west4")
    assert "PREEMPTIBLE_NVIDIA_T4_GPUS" in bad.fix and "request more" in bad.fix
