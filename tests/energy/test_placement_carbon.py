"""Placement with a carbon price: worked examples, and no change at all when the price is 0."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.jobs.models import JobSpec
from orchestrator.provisioning.placement_request import placement_request_for
from policies.energy import offer_kg_per_hour
from policies.placement import OfferIndex, PlacementRequest, Priors, rank_offers
from tests.fakes.provider import make_offer

# 8 x A100 with 96 vCPUs and 1152 GB (p4d / a2-highgpu-8g shape): 3.855 kW at full load.
SHAPE = {"gpu": "A100", "count": 8, "vcpus": 96.0, "memory_gb": 1152.0}
DIRTY_KG = offer_kg_per_hour("gcp", "us-east1", "A100", 8, 96, 1152)  # South Carolina, 575.77 g/kWh
CLEAN_KG = offer_kg_per_hour("gcp", "europe-north1", "A100", 8, 96, 1152)  # Finland, 39.32 g/kWh
REQ = PlacementRequest(gpu_model="A100", gpu_count=8)


def _offers(dirty_price: float, clean_price: float) -> list:  # type: ignore[type-arg]
    return [make_offer("gcp", "us-east1-b", dirty_price, **SHAPE),  # type: ignore[arg-type]
            make_offer("gcp", "europe-north1-a", clean_price, **SHAPE)]  # type: ignore[arg-type]


def test_worked_example_figures() -> None:
    # 3855.104 W x PUE 1.1 x 575.77 g/kWh = 2.4416 kg/h; in Finland 0.1667 kg/h: 2.275 kg/h less
    assert abs(DIRTY_KG - 2.4416) < 1e-3 and abs(CLEAN_KG - 0.1667) < 1e-3


def test_small_price_difference_buys_the_cleaner_region() -> None:
    # $12.00/h in South Carolina vs $12.10/h in Finland; at $0.10/kg (about $100/t) carbon adds
    # $0.244/h vs $0.017/h: 12.244 > 12.117, so Finland wins and 2.27 kg CO2e/h are saved for $0.10/h.
    ranked = rank_offers(PlacementRequest(gpu_model="A100", gpu_count=8, carbon_price=0.10), _offers(12.00, 12.10))
    assert ranked[0].offer.region == "europe-north1"
    assert ranked[0].expected_cost == pytest.approx(12.10 + 0.10 * CLEAN_KG)
    assert "kgCO2e/h" in ranked[0].reason
    assert rank_offers(REQ, _offers(12.00, 12.10))[0].offer.region == "us-east1"  # price 0: cheapest


def test_large_price_difference_keeps_the_cheaper_region() -> None:
    # $12.00/h vs $14.00/h: the $2/h premium is far more than the $0.23/h of carbon saved at $0.10/kg.
    ranked = rank_offers(PlacementRequest(gpu_model="A100", gpu_count=8, carbon_price=0.10), _offers(12.00, 14.00))
    assert ranked[0].offer.region == "us-east1"
    assert ranked[0].expected_cost == pytest.approx(12.00 + 0.10 * DIRTY_KG)


def test_a_high_carbon_price_can_flip_a_large_difference() -> None:
    # at $1/kg the carbon gap is $2.27/h, more than the $2/h premium: Finland wins again
    ranked = rank_offers(PlacementRequest(gpu_model="A100", gpu_count=8, carbon_price=1.0), _offers(12.00, 14.00))
    assert ranked[0].offer.region == "europe-north1"


prices = st.floats(min_value=0.01, max_value=100.0)
zones = st.sampled_from(["us-east1-b", "europe-north1-a", "us-central1-a", "asia-south1-a", "mars-1-a"])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(zones, prices, st.booleans(), st.floats(min_value=0, max_value=2)), min_size=1,
                max_size=12, unique_by=lambda x: (x[0], x[2])),
       st.floats(min_value=0.0, max_value=5.0))
def test_index_agrees_with_linear_scan_and_zero_price_changes_nothing(rows: list, carbon_price: float) -> None:  # type: ignore[type-arg]
    offers = [make_offer("gcp", z, p, spot=spot, interruption_prior=prior, **SHAPE)  # type: ignore[arg-type]
              for z, p, spot, prior in rows]
    priors = Priors()
    req = PlacementRequest(gpu_model="A100", gpu_count=8, carbon_price=carbon_price)
    linear = [(r.offer.pool, round(r.expected_cost, 9)) for r in rank_offers(req, offers, priors=priors)]
    indexed = [(r.offer.pool, round(r.expected_cost, 9)) for r in
               OfferIndex(offers).rank(req, priors=priors, limit=len(offers))]
    assert indexed == linear
    plain = rank_offers(PlacementRequest(gpu_model="A100", gpu_count=8), offers, priors=priors)
    zero = rank_offers(PlacementRequest(gpu_model="A100", gpu_count=8, carbon_price=0.0), offers, priors=priors)
    assert [(r.offer, r.reason, r.expected_cost) for r in zero] == [(r.offer, r.reason, r.expected_cost) for r in plain]


def test_job_carbon_price_overrides_the_teams() -> None:
    spec = JobSpec(name="j", run="true", team="green", resources={"accelerators": "A100:8"})  # type: ignore[arg-type]
    assert placement_request_for(spec).carbon_price == 0.0
    assert placement_request_for(spec, carbon_prices={"green": 0.2}).carbon_price == 0.2
    own = spec.model_copy(update={"resources": spec.resources.model_copy(update={"carbon_price": 0.05})})
    assert placement_request_for(own, carbon_prices={"green": 0.2}).carbon_price == 0.05
