"""Unit tests of the pure deadline policies: the safety net, each policy's rules, the decision interface."""

from __future__ import annotations

import pytest

from policies.availability import ZoneStats
from policies.deadline import POLICIES, DeadlineState, Market, decide

K = 3.06 / 0.9731


def zone(name: str, up: bool, expected: float = 1.0, age: float = 1.0) -> ZoneStats:
    return ZoneStats(name, up, age, expected if up else 0.0, 0.0 if up else 1.0, 0.5)


def state(now: float = 0.0, done: float = 0.0, market: Market = Market.NONE, zone_name: str | None = None,
          zones: tuple[ZoneStats, ...] = (), deadline: float = 52.0, over: float = 0.0) -> DeadlineState:
    return DeadlineState(now, deadline, 48.0, done, 0.2, 0.1, market, zone_name, over, zones, K)


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_safety_net_forces_on_demand_from_idle(policy: str) -> None:
    # 4 h left, 3.7 h of work: slack 0.3 h < 2d = 0.4 h
    s = state(now=48.0, done=44.3, zones=(zone("a", True),))
    d = decide(s, policy)
    assert d.market is Market.ON_DEMAND and d.final


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_finished_job_runs_nothing(policy: str) -> None:
    assert decide(state(now=49.0, done=48.0), policy).market is Market.NONE


@pytest.mark.parametrize("policy", ["greedy", "uniform-progress", "spotwise"])
def test_live_spot_instance_is_kept_even_with_little_slack(policy: str) -> None:
    s = state(now=48.0, done=44.3, market=Market.SPOT, zone_name="a", zones=(zone("a", True), zone("b", True, 9)))
    assert decide(s, policy).market is Market.SPOT and decide(s, policy).zone == "a"


def test_greedy_takes_first_zone_in_name_order_and_waits_without_spot() -> None:
    assert decide(state(zones=(zone("a", False), zone("b", True), zone("c", True))), "greedy").zone == "b"
    assert decide(state(zones=(zone("a", False),)), "greedy").market is Market.NONE


def test_uniform_progress_follows_the_line_with_hysteresis() -> None:
    no_spot = (zone("a", False),)
    behind = state(now=10.0, done=9.0, zones=no_spot)  # line: 10 * 48 / 52 = 9.23
    assert decide(behind, "uniform-progress").market is Market.ON_DEMAND
    ahead = state(now=10.0, done=9.5, zones=no_spot)
    assert decide(ahead, "uniform-progress").market is Market.NONE
    # on on-demand and only slightly ahead: stay (hysteresis needs 2d * C/D = 0.37 h ahead)
    on_od = state(now=10.0, done=9.4, market=Market.ON_DEMAND, zones=(zone("a", True),))
    assert decide(on_od, "uniform-progress").market is Market.ON_DEMAND
    well_ahead = state(now=10.0, done=9.8, market=Market.ON_DEMAND, zones=(zone("a", True),))
    assert decide(well_ahead, "uniform-progress").market is Market.SPOT


def test_spotwise_prefers_the_zone_expected_to_last_longest() -> None:
    d = decide(state(zones=(zone("a", True, 0.5), zone("b", True, 6.0))))
    assert (d.market, d.zone) == (Market.SPOT, "b")
    assert "spot in b" in d.reason


def test_spotwise_bridges_with_on_demand_when_slack_is_scarce() -> None:
    # 3 h of slack with all the work ahead: below the reserve (0.4 + 0.8 * 4 h)
    assert decide(state(now=1.0, zones=(zone("a", False),))).market is Market.ON_DEMAND


def test_spotwise_waits_when_slack_is_plentiful() -> None:
    # 2 h of work left and 6 h of slack: far above the reserve
    assert decide(state(now=44.0, done=46.0, zones=(zone("a", False),))).market is Market.NONE


def test_spotwise_leaves_on_demand_only_for_spot_that_pays_back() -> None:
    short = state(market=Market.ON_DEMAND, zones=(zone("a", True, 0.3, age=0.5),))
    assert decide(short).market is Market.ON_DEMAND
    long = state(market=Market.ON_DEMAND, zones=(zone("a", True, 40.0),))
    assert decide(long).market is Market.SPOT


def test_slack_counts_the_changeover_still_owed() -> None:
    s = state(now=1.0, done=0.0, market=Market.ON_DEMAND, over=0.1)
    assert s.slack == pytest.approx(52 - 1 - 48 - 0.1)


def test_unknown_policy_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="spotwise"):
        decide(state(), "cheapest")


def test_spotwise_does_not_leave_on_demand_for_capacity_younger_than_two_changeovers() -> None:
    fresh = state(market=Market.ON_DEMAND, zones=(zone("a", True, 40.0, age=0.2),))
    assert decide(fresh).market is Market.ON_DEMAND


def test_spotwise_leaves_on_demand_for_a_proven_run_even_when_slack_is_scarce() -> None:
    # 2 h of slack with all the work ahead (scarce), spot has run 2.5 h but the estimate says only 1 h more
    proven = state(now=2.0, market=Market.ON_DEMAND, zones=(zone("a", True, 1.0, age=2.5),))
    assert decide(proven).market is Market.SPOT
    young = state(now=2.0, market=Market.ON_DEMAND, zones=(zone("a", True, 1.0, age=1.5),))
    assert decide(young).market is Market.ON_DEMAND


def test_spotwise_leaves_on_demand_for_a_young_run_backed_by_another_zone() -> None:
    # 2 h of slack with all the work ahead (scarce); the run is 0.5 h old and expected to last 1 h more
    backed = state(now=2.0, market=Market.ON_DEMAND, zones=(zone("a", True, 1.0, age=0.5), zone("b", True, 0.5)))
    assert (decide(backed).market, decide(backed).zone) == (Market.SPOT, "a")
    alone = state(now=2.0, market=Market.ON_DEMAND, zones=(zone("a", True, 1.0, age=0.5), zone("b", False)))
    assert decide(alone).market is Market.ON_DEMAND
    # not for capacity younger than two changeovers, and not when the two changeovers would breach the net
    fresh = state(now=2.0, market=Market.ON_DEMAND, zones=(zone("a", True, 1.0, age=0.2), zone("b", True)))
    assert decide(fresh).market is Market.ON_DEMAND
    tight = state(now=3.3, market=Market.ON_DEMAND, zones=(zone("a", True, 1.0, age=0.5), zone("b", True)))
    assert decide(tight).market is Market.ON_DEMAND  # slack 0.7 h - 2 x 0.2 h < the 0.4 h safety slack


def test_spotwise_reserve_is_capped_so_a_long_deadline_waits_out_outages() -> None:
    # D = 80 h: 22 h of slack at hour 10. Uncapped, the reserve would be 0.8 x 32 h = 25.6 h (bridge with
    # on-demand); capped at RESERVE_CAP_HOURS it is 4 h, so the job waits for spot.
    long = state(now=10.0, deadline=80.0, zones=(zone("a", False),))
    assert decide(long).market is Market.NONE
    assert decide(state(now=1.0, zones=(zone("a", False),))).market is Market.ON_DEMAND  # D = 52 h: scarce


def test_spotwise_dp_answers_through_the_same_interface_with_its_prior() -> None:
    # no outlook (a daemon without history): the prior model; the safety net still comes first
    assert decide(state(now=48.0, done=44.3, zones=(zone("a", True),)), "spotwise-dp").market is Market.ON_DEMAND
    assert decide(state(zones=(zone("a", True, age=30.0),)), "spotwise-dp").market is Market.SPOT
    assert decide(state(now=44.0, done=46.0, zones=(zone("a", False),)), "spotwise-dp").market is Market.NONE


def _priced(name: str, price: float, expected: float) -> ZoneStats:
    return ZoneStats(name, True, 3.0, expected, 0.0, 0.5, price)


@pytest.mark.parametrize("policy", ["spotwise", "spotwise-dp"])
def test_spotwise_weighs_price_against_expected_lifetime(policy: str) -> None:
    # equal lifetimes: the cheaper zone, whatever the name order
    assert decide(state(zones=(_priced("a", 2.0, 3.0), _priced("b", 1.0, 3.0))), policy).zone == "b"
    # equal prices: the longer expected run (the benchmarked rule)
    assert decide(state(zones=(_priced("a", 1.0, 3.0), _priced("b", 1.0, 5.0))), policy).zone == "b"
    # a slightly dearer zone expected to last ten times longer pays for its price
    assert decide(state(zones=(_priced("a", 1.1, 10.0), _priced("b", 1.0, 1.0))), policy).zone == "a"
