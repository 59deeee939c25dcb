"""Candidate GPU types ("any of these"): placement ranks the offers of every candidate together, `listed` order tries
them one after another, feasibility accepts a job when any candidate is offered, and the launcher's request
carries the spec's candidates."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.jobs.models import JobSpec
from orchestrator.provisioning.feasibility import assess
from orchestrator.provisioning.placement_request import placement_request_for
from policies.gang import plan_gang
from policies.placement import OfferIndex, PlacementRequest, rank_offers, rejection
from tests.fakes.provider import make_offer

A100 = make_offer("aws", "us-east-1a", 12.0, gpu="A100", count=8, instance_type="p4d", vcpus=96, memory_gb=1152)
H100 = make_offer("gcp", "us-central1-a", 10.0, gpu="H100", count=8, instance_type="a3", vcpus=208, memory_gb=1872)
H100_4 = make_offer("gcp", "us-central1-b", 5.0, gpu="H100", count=4, instance_type="a3-4", vcpus=104, memory_gb=936)
L4 = make_offer("aws", "us-east-1b", 0.30, gpu="L4", count=1, instance_type="g6")
OFFERS = [A100, H100, H100_4, L4]
ANY = PlacementRequest(gpu_model="A100", gpu_count=8, gpu_candidates=(("H100", 8),))


def test_offers_of_every_candidate_are_ranked_together_by_price() -> None:
    assert [r.offer for r in rank_offers(ANY, OFFERS)] == [H100, A100]  # H100 first: cheaper, though listed second
    assert [r.offer for r in OfferIndex(OFFERS).rank(ANY)] == [H100, A100]


def test_a_candidate_matches_its_own_count_only() -> None:
    assert rejection(ANY, H100_4) == "has 4 H100 GPUs, job needs A100:8 or H100:8"
    assert rejection(ANY, L4) == "GPU L4 is not A100 or H100"
    mixed = PlacementRequest(gpu_model="A100", gpu_count=8, gpu_candidates=(("h100", 4),))  # any spelling
    assert [r.offer for r in OfferIndex(OFFERS).rank(mixed)] == [H100_4, A100]


def test_listed_order_tries_the_candidates_in_the_order_written() -> None:
    listed = PlacementRequest(gpu_model="A100", gpu_count=8, gpu_candidates=(("H100", 8),), gpu_order="listed")
    for ranked in (rank_offers(listed, OFFERS), OfferIndex(OFFERS).rank(listed)):
        assert [r.offer for r in ranked] == [A100, H100]  # A100 first although dearer; H100 is the failover
        assert "options tried in the order listed: A100:8 or H100:8" in ranked[0].reason


def test_a_gang_of_candidates_stays_on_one_offer() -> None:
    gang = PlacementRequest(gpu_model="A100", gpu_count=8, gpu_candidates=(("H100", 8),), num_nodes=2)
    plans = plan_gang(OfferIndex(OFFERS).rank(gang), 2)
    assert [p.offer for p in plans] == [H100, A100] and plans[0].total_price_per_hour == 20.0


def test_feasible_when_any_candidate_is_offered_and_the_refusal_names_them_all() -> None:
    index = OfferIndex(OFFERS)
    only_second = PlacementRequest(gpu_model="B200", gpu_count=8, gpu_candidates=(("H100", 8),))
    found = assess(only_second, index)
    assert found.problem is None and found.ranked[0].offer == H100
    neither = PlacementRequest(gpu_model="B200", gpu_count=8, gpu_candidates=(("H200", 8),))
    problem = assess(neither, index).problem
    assert problem is not None and problem.startswith("no configured provider offers B200:8 or H200:8")
    assert "no offer has B200 or H200 GPUs" in problem


def test_the_launcher_request_carries_the_spec_candidates() -> None:
    spec = JobSpec.model_validate({"name": "c", "run": "true", "resources": {
        "accelerators": "A100:8", "accelerator_candidates": ["h100:8", "A100:8"], "candidate_order": "listed"}})
    assert [str(a) for a in spec.resources.gpu_options()] == ["A100:8", "H100:8"]  # the duplicate once
    req = placement_request_for(spec)
    assert req.gpu_options() == (("A100", 8), ("H100", 8)) and req.gpu_order == "listed"


GPUS = ["T4", "A100", "H100", "L4"]
offer_st = st.builds(
    lambda cloud, zone, price, gpu, count, spot: make_offer(cloud, zone, price, gpu=gpu, count=count, spot=spot,
                                                            instance_type=f"{gpu}x{count}"),
    st.sampled_from(["aws", "gcp"]), st.sampled_from(["a-1a", "a-1b", "b-2a"]),
    st.floats(0.01, 50, allow_nan=False).map(lambda p: round(p, 3)), st.sampled_from(GPUS),
    st.sampled_from([1, 8]), st.booleans())
option_st = st.tuples(st.sampled_from(GPUS), st.sampled_from([1, 8]))


@settings(max_examples=150, deadline=None)
@given(first=option_st, more=st.lists(option_st, max_size=3), offers=st.lists(offer_st, max_size=30),
       spot=st.sampled_from([True, False, "auto"]), clouds=st.sampled_from([(), ("aws",)]),
       order=st.sampled_from(["price", "listed"]), limit=st.sampled_from([1, 3, 50]))
def test_the_index_ranks_candidates_as_the_linear_scan_does(first: tuple[str, int], more: list[tuple[str, int]],
                                                            offers: list, spot: bool | str, clouds: tuple[str, ...],
                                                            order: str, limit: int) -> None:
    req = PlacementRequest(gpu_model=first[0], gpu_count=first[1], gpu_candidates=tuple(more),
                           spot=spot, clouds=clouds, gpu_order=order)  # type: ignore[arg-type]
    scanned = rank_offers(req, offers)
    indexed = OfferIndex(offers).rank(req, limit=limit)
    options = set(req.gpu_options())
    assert all((o.offer.gpu_model, o.offer.gpu_count) in options for o in scanned)
    assert all(rejection(req, o) is not None for o in offers if o not in [r.offer for r in scanned])
    if order == "price":
        costs = [r.expected_cost for r in scanned]
        assert costs == sorted(costs)
        assert [r.expected_cost for r in indexed] == costs[:limit]
    else:  # option by option: every offer of an earlier option before any of a later one
        ranks = [req.gpu_options().index((r.offer.gpu_model, r.offer.gpu_count)) for r in scanned]
        assert ranks == sorted(ranks)
        assert [r.offer for r in indexed] == [r.offer for r in scanned][:limit]


def test_ranking_by_total_cost_sees_every_candidate_and_keeps_a_listed_order() -> None:
    """The launcher ranks by expected total cost (policies/totalcost.py) when data moves: candidates reach it, and a
    `listed` order survives the re-sort by total (each option's offers by total, then the next option's)."""
    from datetime import UTC, datetime

    from policies.egress import TransferRates
    from policies.totalcost import DataItem, DataProfile, place_by_total
    from providers.base import Offer

    now = datetime(2026, 12, 7, tzinfo=UTC)
    a100 = Offer("aws", "us-east-1", "us-east-1a", "p4d", "A100", 8, 96, 1152, True, 12.0, now)
    h100 = Offer("gcp", "us-central1", "us-central1-a", "a3", "H100", 8, 208, 1872, True, 10.0, now)
    index = OfferIndex([a100, h100])
    profile = DataProfile((DataItem("checkpoint", "aws", "us-east-1", 10 * 10**9),), 10.0, "test")
    req = PlacementRequest(gpu_model="A100", gpu_count=8, gpu_candidates=(("H100", 8),))
    ranked = place_by_total(index, req, profile, TransferRates(), limit=5)
    assert [r.offer for r in ranked] == [h100, a100]  # by total: H100 is cheaper even with the data moved
    listed = PlacementRequest(gpu_model="H100", gpu_count=8, gpu_candidates=(("A100", 8),), gpu_order="listed")
    near = PlacementRequest(gpu_model="A100", gpu_count=8, gpu_candidates=(("H100", 8),), gpu_order="listed")
    assert [r.offer for r in place_by_total(index, listed, profile, TransferRates(), limit=5)] == [h100, a100]
    assert [r.offer for r in place_by_total(index, near, profile, TransferRates(), limit=5)] == [a100, h100]  # kept
