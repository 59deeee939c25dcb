"""Property tests: the chosen offer satisfies the request; no cheaper satisfying unblocked offer exists."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.blocks import Blocks
from policies.placement import OfferIndex, PlacementRequest, Priors, expected_cost, rank_offers, rejection
from tests.fakes.provider import make_offer

ZONES = ["a-1a", "a-1b", "b-2a", "c-3a"]
GPUS = ["T4", "A100", "A100-80GB", ""]

offer_st = st.builds(
    lambda cloud, zone, price, gpu, count, spot, vcpus, prior: make_offer(
        cloud, zone, price, gpu=gpu, count=count if gpu else 0, spot=spot, vcpus=vcpus,
        instance_type=f"t{count}", interruption_prior=prior),
    st.sampled_from(["aws", "gcp"]), st.sampled_from(ZONES),
    st.floats(0.01, 50, allow_nan=False).map(lambda p: round(p, 3)), st.sampled_from(GPUS),
    st.sampled_from([1, 2, 8]), st.booleans(), st.sampled_from([4.0, 8.0, 96.0]),
    st.one_of(st.none(), st.floats(0, 2)))

request_st = st.builds(
    PlacementRequest,
    gpu_model=st.one_of(st.none(), st.sampled_from(["t4", "A100-40GB", "a100-80g"])),
    gpu_count=st.sampled_from([1, 2, 8]), spot=st.sampled_from([True, False, "auto"]),
    clouds=st.sampled_from([(), ("aws",), ("gcp",)]), zones=st.sampled_from([(), ("a-1a", "b-2a")]),
    min_vcpus=st.one_of(st.none(), st.sampled_from([8.0, 64.0])),
    max_price_per_hour=st.one_of(st.none(), st.floats(0.5, 40)))


@settings(max_examples=150, deadline=None)
@given(req=request_st, offers=st.lists(offer_st, max_size=30), blocked=st.sets(st.integers(0, 29), max_size=6),
       with_priors=st.booleans())
def test_choice_satisfies_and_nothing_cheaper_is_left(req: PlacementRequest, offers: list, blocked: set,
                                                      with_priors: bool) -> None:
    blocks = Blocks.of_pools({offers[i].pool for i in blocked if i < len(offers)})
    priors = Priors() if with_priors else None
    ranked = rank_offers(req, offers, blocks, priors=priors)
    allowed = [o for o in offers if rejection(req, o) is None and not blocks.blocks(o, 0.0)]
    if not allowed:
        assert ranked == []
        return
    best = ranked[0]
    assert rejection(req, best.offer) is None and not blocks.blocks(best.offer, 0.0)
    assert all(expected_cost(o, priors)[0] >= best.expected_cost - 1e-12 for o in allowed)
    if priors is None:
        assert all(o.price_per_hour >= best.offer.price_per_hour for o in allowed)
    indexed = OfferIndex(offers).rank(req, blocks, priors=priors, limit=3)
    assert [r.expected_cost for r in indexed] == [r.expected_cost for r in ranked[:3]]
