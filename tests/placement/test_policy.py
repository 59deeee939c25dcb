"""The placement policy: aliases, every filter, ranking with and without priors, blocks, gangs."""

from __future__ import annotations

import pytest

from policies.blocks import Block, Blocks, scope_key
from policies.gang import plan_gang
from policies.placement import OfferIndex, PlacementRequest, Priors, canonical_gpu, rank_offers, rejection
from tests.fakes.provider import make_offer

A = make_offer("aws", "us-east-1a", 1.00, region="us-east-1")
B = make_offer("gcp", "us-central1-a", 0.80)
C = make_offer("gcp", "europe-west4-b", 0.90, gpu="A100-80GB", count=8, gpu_memory_gb=80, vcpus=96, memory_gb=1360)
OD = make_offer("azure", "eastus", 2.00, spot=False, region="eastus")


@pytest.mark.parametrize("written,canonical", [
    ("a100", "A100"), ("A100-40GB", "A100"), ("a100-80g", "A100-80GB"), ("A100-80GB", "A100-80GB"),
    ("h100-sxm", "H100"), ("Tesla-T4", "T4"), (" nvidia-l4 ", "L4"), ("V100-32G", "V100-32GB"),
])
def test_aliases(written: str, canonical: str) -> None:
    assert canonical_gpu(written) == canonical


def test_alias_matches_but_40_and_80_gb_stay_apart() -> None:
    assert rejection(PlacementRequest(gpu_model="a100-80g", gpu_count=8), C) is None
    assert rejection(PlacementRequest(gpu_model="A100-40GB", gpu_count=8), C) is not None


@pytest.mark.parametrize("req,offer,accepted", [
    (PlacementRequest(gpu_model="T4", gpu_count=1), A, True),
    (PlacementRequest(gpu_model="L4", gpu_count=1), A, False),
    (PlacementRequest(gpu_model="T4", gpu_count=2), A, False),
    (PlacementRequest(spot=True), OD, False),
    (PlacementRequest(spot=False), A, False),
    (PlacementRequest(spot=False), OD, True),
    (PlacementRequest(spot="auto"), OD, True),
    (PlacementRequest(clouds=("GCP",)), B, True),
    (PlacementRequest(clouds=("gcp",)), A, False),
    (PlacementRequest(regions=("us-east-1",)), A, True),
    (PlacementRequest(regions=("us-west-2",)), A, False),
    (PlacementRequest(zones=("us-central1-a",)), B, True),
    (PlacementRequest(zones=("us-central1-b",)), B, False),
    (PlacementRequest(instance_type="gpu.small"), A, True),
    (PlacementRequest(instance_type="gpu.large"), A, False),
    (PlacementRequest(min_vcpus=8), A, True),
    (PlacementRequest(min_vcpus=9), A, False),
    (PlacementRequest(min_memory_gb=32), A, True),
    (PlacementRequest(min_memory_gb=33), A, False),
    (PlacementRequest(min_gpu_memory_gb=16), A, True),
    (PlacementRequest(min_gpu_memory_gb=24), A, False),
    (PlacementRequest(max_price_per_hour=1.0), A, True),
    (PlacementRequest(max_price_per_hour=0.99), A, False),
])
def test_every_filter(req: PlacementRequest, offer: object, accepted: bool) -> None:
    reason = rejection(req, offer)  # type: ignore[arg-type]
    assert (reason is None) is accepted, reason


def test_ranking_without_priors_is_by_price_with_reason() -> None:
    ranked = rank_offers(PlacementRequest(), [A, B, C, OD])
    assert [r.offer for r in ranked] == [B, C, A, OD]
    assert ranked[0].reason.startswith("cheapest matching: gcp spot gpu.small $0.8000/h in us-central1-a")
    assert "of 4 candidates" in ranked[0].reason


def test_priors_raise_expected_cost_of_interruptible_pools() -> None:
    risky = make_offer("gcp", "us-central1-b", 0.70, interruption_prior=1.0)
    calm = make_offer("gcp", "us-central1-c", 0.75, interruption_prior=0.05)
    assert rank_offers(PlacementRequest(), [risky, calm])[0].offer == risky  # no priors: price only
    ranked = rank_offers(PlacementRequest(), [risky, calm], priors=Priors(lost_hours=0.5))
    assert ranked[0].offer == calm and ranked[0].expected_cost == pytest.approx(0.75 * 1.025)
    assert ranked[1].expected_cost == pytest.approx(0.70 * 1.5)


def test_observed_preemptions_penalise_a_pool() -> None:
    priors = Priors(lost_hours=0.5, penalty_per_preemption=0.5, observed={B.pool: 2})
    ranked = rank_offers(PlacementRequest(gpu_model="T4", gpu_count=1), [A, B], priors=priors)
    assert ranked[0].offer == A and "2 recent preemptions" in ranked[1].reason
    on_demand = make_offer("gcp", "us-central1-a", 0.8, spot=False)
    assert rank_offers(PlacementRequest(), [on_demand], priors=Priors(observed={on_demand.pool: 9}))[0] \
        .expected_cost == pytest.approx(0.8)  # on-demand is not interrupted


def test_blocks_expire_and_cover_their_scope() -> None:
    blocks = Blocks()
    blocks.block("pool", B.pool, until=100.0, reason="CapacityError")
    req = PlacementRequest(gpu_model="T4", gpu_count=1)
    assert [r.offer for r in rank_offers(req, [A, B], blocks, now=50.0)] == [A]
    assert [r.offer for r in rank_offers(req, [A, B], blocks, now=100.0)] == [B, A]  # expired at its TTL
    blocks.block("region", A.pool, until=200.0)
    assert rank_offers(req, [A], blocks, now=150.0) == []
    same_region = make_offer("aws", "us-east-1b", 0.5, region="us-east-1", instance_type="other")
    assert blocks.blocks(same_region, 150.0) and not blocks.blocks(B, 150.0)
    blocks.block("provider", B.pool, until=300.0)
    assert blocks.why(C.pool, 250.0) is not None and blocks.why(A.pool, 250.0) is None
    blocks.prune(1000.0)
    assert not blocks


def test_a_longer_block_is_not_shortened() -> None:
    blocks = Blocks.of([Block(scope_key("pool", A.pool), 500.0), Block(scope_key("pool", A.pool), 100.0)])
    assert blocks.blocks(A, 300.0)


def test_plain_pool_collection_still_blocks() -> None:
    assert [r.offer for r in rank_offers(PlacementRequest(gpu_model="T4", gpu_count=1), [A, B], {B.pool})] == [A]


def test_index_agrees_with_linear_ranking() -> None:
    offers = [A, B, C, OD, make_offer("gcp", "us-central1-f", 0.85, interruption_prior=2.0)]
    index = OfferIndex(offers)
    for req in (PlacementRequest(), PlacementRequest(gpu_model="t4", gpu_count=1, spot=True),
                PlacementRequest(spot=False), PlacementRequest(max_price_per_hour=0.9)):
        for priors in (None, Priors()):
            want = [r.offer for r in rank_offers(req, offers, priors=priors)][:2]
            assert [r.offer for r in index.rank(req, priors=priors, limit=2)] == want


def test_gang_uses_one_pool_and_skips_pools_short_of_capacity() -> None:
    cheap = make_offer("gcp", "us-central1-a", 1.0, gpu="H100", count=8)
    dear = make_offer("gcp", "us-central1-b", 1.2, gpu="H100", count=8)
    req = PlacementRequest(gpu_model="H100", gpu_count=8, num_nodes=4)
    ranked = rank_offers(req, [dear, cheap])
    assert "for 4 nodes in one zone" in ranked[0].reason
    plans = plan_gang(ranked, 4)
    assert plans[0].offer == cheap and plans[0].total_price_per_hour == pytest.approx(4.0)
    plans = plan_gang(ranked, 4, capacity={cheap.pool: 3})
    assert [p.offer for p in plans] == [dear]
    with pytest.raises(ValueError):
        plan_gang(ranked, 0)
