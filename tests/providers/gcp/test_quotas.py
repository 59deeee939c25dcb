"""Regional GPU quotas (regions.get) filter the offers: no offer walks into a quota wall GCE would refuse."""

from __future__ import annotations

from typing import Any

from providers.base import OfferQuery
from providers.gcp.quotas import Quota, gpu_headroom, metric_for
from tests.providers.gcp.fake_gce import FakeGCE


def _pools(provider: Any, region: str, gpu: str) -> set[tuple[int, bool]]:
    return {(o.gpu_count, o.spot) for o in provider.list_offers(OfferQuery(gpu_model=gpu)) if o.region == region}


def test_metric_names_follow_gce() -> None:
    assert metric_for("T4", spot=False) == "NVIDIA_T4_GPUS"
    assert metric_for("A100-80GB", spot=True) == "PREEMPTIBLE_NVIDIA_A100_80GB_GPUS"


def test_a_region_without_gpu_quota_offers_none_of_that_gpu(make_provider: Any, gce: FakeGCE) -> None:
    """A new project: T4 quota 0 in europe-west4 (every launch there would be QUOTA_EXCEEDED); us-central1 keeps
    its T4 offers, and europe-west4 its V100 ones (a quota per GPU model)."""
    gce.quotas["europe-west4"] = {"NVIDIA_T4_GPUS": (0, 0), "NVIDIA_V100_GPUS": (8, 0)}
    provider = make_provider()
    assert _pools(provider, "europe-west4", "T4") == set()
    assert _pools(provider, "us-central1", "T4")  # no quota listed for T4 there: not filtered
    assert {n for n, _ in _pools(provider, "europe-west4", "V100")} == {1, 2, 4, 8}
    assert gce.requests["regions.get"] == 2


def test_headroom_is_limit_minus_usage_and_spot_uses_preemptible_quota(make_provider: Any, gce: FakeGCE) -> None:
    gce.quotas["us-central1"] = {"NVIDIA_T4_GPUS": (8, 6), "PREEMPTIBLE_NVIDIA_T4_GPUS": (4, 0)}
    provider = make_provider(regions=["us-central1"])
    pools = _pools(provider, "us-central1", "T4")
    assert {n for n, spot in pools if not spot} == {1, 2}  # 8 - 6 in use
    assert {n for n, spot in pools if spot} == {1, 2, 4}  # Spot VMs take the preemptible quota


def test_spot_falls_back_to_the_standard_quota_without_preemptible_quota() -> None:
    quotas = {"NVIDIA_L4_GPUS": Quota(2, 0), "PREEMPTIBLE_NVIDIA_L4_GPUS": Quota(0, 0)}
    assert gpu_headroom(quotas, "L4", spot=True) == 2 and gpu_headroom(quotas, "L4", spot=False) == 2
    assert gpu_headroom(quotas, "H100", spot=True) is None  # not listed: unknown, not zero


def test_quotas_are_cached_with_the_listing(make_provider: Any, gce: FakeGCE) -> None:
    provider = make_provider(regions=["us-central1"])
    provider.list_offers(OfferQuery())
    provider.list_offers(OfferQuery())
    assert gce.requests["regions.get"] == 1
    fresh = make_provider(regions=["us-central1"], cache_ttl_s=0.000001)
    fresh.list_offers(OfferQuery())
    fresh.list_offers(OfferQuery())
    assert gce.requests["regions.get"] == 3


def test_quotas_that_cannot_be_read_filter_nothing(make_provider: Any, gce: FakeGCE) -> None:
    """No compute.regions.get permission: offers as before (a launch over quota still blocks the region)."""
    gce.quotas["us-central1"] = {"NVIDIA_T4_GPUS": (0, 0)}
    gce.region_errors["us-central1"] = 403
    assert _pools(make_provider(regions=["us-central1"]), "us-central1", "T4")
