"""Expected cost to finish: an offer beside the data beats a cheaper one across clouds exactly when egress and
transfer time outweigh the price difference; every figure of the egress table cites its source."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from policies.egress import MOVE_KINDS, THROUGHPUT_MB_S, UNKNOWN_CLOUD_EGRESS, TransferRates, egress_table, move_kind
from policies.placement import OfferIndex, PlacementRequest, Priors
from policies.totalcost import DataItem, DataProfile, place_by_total
from providers.base import Offer

NOW = datetime(2026, 12, 7, tzinfo=UTC)
CKPT = DataItem("checkpoint", "aws", "us-east-1", 100 * 10**9)  # 100 GB beside us-east-1
HOURS = 10.0


def offer(cloud: str, region: str, price: float, *, spot: bool = True, prior: float | None = None) -> Offer:
    return Offer(cloud, region, f"{region}-a", f"{cloud}-h100", "H100", 8, 96, 1000, spot, price, NOW,
                 interruption_prior=prior)


def boundary_price(cheap: float) -> float:
    """The us-east-1 price at which both offers cost the same to finish, from the list figures by hand:
    100 GB at 250 MB/s = 400 s beside the data; at 100 MB/s = 1000 s across clouds, plus 100 GB x $0.09."""
    near_h, far_h = 400 / 3600, 1000 / 3600
    return (cheap * (HOURS + far_h) + 100 * 0.09) / (HOURS + near_h)


@pytest.mark.parametrize("delta, winner", [(-0.01, "aws"), (+0.01, "gcp")])
def test_the_offer_beside_the_data_wins_exactly_when_moving_costs_more_than_the_price_difference(
        delta: float, winner: str) -> None:
    cheap = 2.0
    near = boundary_price(cheap) + delta
    index = OfferIndex([offer("aws", "us-east-1", near), offer("gcp", "us-central1", cheap)])
    profile = DataProfile((CKPT,), HOURS, "test")
    rows = place_by_total(index, PlacementRequest(gpu_model="H100", gpu_count=8), profile, TransferRates(),
                          limit=1)  # limit 1: the dearer offer beside the data is asked for by name
    assert rows[0].offer.cloud == winner
    far = next(r for r in place_by_total(index, PlacementRequest(gpu_model="H100", gpu_count=8), profile,
                                         TransferRates(), limit=2) if r.offer.cloud == "gcp")
    assert far.cost.transfer_gb == pytest.approx(100)
    assert far.cost.egress_usd == pytest.approx(9.0)
    assert far.cost.transfer_minutes == pytest.approx(1000 / 60)
    if winner == "aws":
        assert "beats the cheaper $2.0000/h gcp" in rows[0].reason


def test_without_data_the_hourly_order_stands() -> None:
    index = OfferIndex([offer("aws", "us-east-1", 3.0), offer("gcp", "us-central1", 2.0)])
    rows = place_by_total(index, PlacementRequest(gpu_model="H100", gpu_count=8), DataProfile((), HOURS),
                          TransferRates(), limit=2)
    assert [r.offer.cloud for r in rows] == ["gcp", "aws"]
    assert rows[0].cost.egress_usd == 0 and rows[0].cost.total_usd == pytest.approx(2.0 * HOURS)


def test_spot_interruptions_add_the_expected_re_transfers() -> None:
    """A reclaim downloads everything again: rate x hours x (egress + transfer time at the price)."""
    risky = offer("gcp", "us-central1", 2.0, prior=0.1)
    index = OfferIndex([risky])
    row = place_by_total(index, PlacementRequest(), DataProfile((CKPT,), HOURS), TransferRates(),
                         priors=Priors(lost_hours=0.0), limit=1)[0]
    transfer_h = 1000 / 3600
    interruptions = 0.1 * (HOURS + transfer_h)
    assert row.cost.interruptions == pytest.approx(interruptions)
    assert row.cost.retransfer_usd == pytest.approx(interruptions * (9.0 + transfer_h * 2.0))
    assert row.cost.total_usd == pytest.approx(2.0 * (HOURS + transfer_h) + 9.0 + row.cost.retransfer_usd)


def test_a_negotiated_price_and_a_measured_rate_override_the_table() -> None:
    rates = TransferRates(egress={"aws": {"internet": 0.0}},
                          learned={("aws", "us-east-1", "gcp", "us-central1"): 1000.0})
    index = OfferIndex([offer("gcp", "us-central1", 2.0)])
    row = place_by_total(index, PlacementRequest(), DataProfile((CKPT,), HOURS), rates, limit=1)[0]
    assert row.cost.egress_usd == 0.0
    assert row.cost.transfer_minutes == pytest.approx(100 / 60)  # 100 GB at 1000 MB/s
    assert row.cost.rate_source == "measured"


def test_move_kinds() -> None:
    assert move_kind("aws", "us-east-1", "aws", "us-east-1") == "same_region"
    assert move_kind("aws", "us-east-1", "aws", "us-west-2") == "cross_region"
    assert move_kind("aws", None, "aws", "us-east-1") == "cross_region"  # unknown region: the conservative guess
    assert move_kind("gcp", "us-central1", "azure", "eastus") == "internet"


def test_every_figure_of_the_table_cites_a_source_and_a_date() -> None:
    """Parses the table: each cloud has every kind; each figure is a finite non-negative number with an https
    source (the local disk excepted) and 'as of' an ISO date."""
    table = egress_table()  # what each cloud's plugin declares
    figures = [(f"{cloud}.{kind}", table[cloud][kind]) for cloud in table for kind in MOVE_KINDS]
    figures += [(f"throughput.{kind}", THROUGHPUT_MB_S[kind]) for kind in MOVE_KINDS]
    figures += [(f"unknown.{kind}", UNKNOWN_CLOUD_EGRESS[kind]) for kind in MOVE_KINDS]
    assert {"aws", "gcp", "azure"} <= set(table)
    for name, figure in figures:
        assert figure.value >= 0, name
        assert re.search(r"as of \d{4}-\d{2}-\d{2}$", figure.as_of), name
        if not name.startswith(("local.", "unknown.")):
            assert re.match(r"https://(aws\.amazon\.com|docs\.aws\.amazon\.com|cloud\.google\.com|"
                            r"azure\.microsoft\.com)/", figure.source), name
    internet = {c: table[c]["internet"].value for c in ("aws", "gcp", "azure")}
    assert UNKNOWN_CLOUD_EGRESS["internet"].value == max(internet.values())  # an unknown cloud is never flattered
    assert all(0.08 <= v <= 0.12 for v in internet.values()), internet  # the list range the design names


@pytest.mark.parametrize("transfer, message", [
    ({"egress_usd_per_gb": {"aws": {"internet": -0.01}}}, "greater than or equal to 0"),
    ({"egress_usd_per_gb": {"aws": {"outer_space": 0.01}}}, "same_region"),
    ({"throughput_mb_s": {"internet": 0}}, "greater than 0"),
    ({"learn_after_samples": 0}, "greater than or equal to 1"),
    ({"bogus": 1}, "Extra inputs are not permitted"),
])
def test_transfer_settings_are_checked(transfer: dict[str, object], message: str) -> None:
    from pydantic import ValidationError

    from orchestrator.config import Settings

    with pytest.raises(ValidationError, match=message):
        Settings(transfer=transfer)
