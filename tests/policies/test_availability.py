"""The zone statistics are causal and estimate mean residual lifetimes as documented."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.availability import PRIOR_RUN_HOURS, PRIOR_WEIGHT, ZoneHistory, zone_stats_series


def test_mean_residual_life_of_past_runs() -> None:
    h = ZoneHistory("z", 1.0)
    for v in [1, 1, 1, 1, 0, 1, 1, 0, 1]:  # completed up-runs of 4 and 2 ticks, then age 1
        s = h.observe(bool(v))
    # runs longer than age 1: 4 and 2 -> residuals 3 and 1; prior: weight 2 at max(2 h, age)
    expected = (3 + 1 + PRIOR_WEIGHT * PRIOR_RUN_HOURS) / (2 + PRIOR_WEIGHT)
    assert s.available and s.expected_up_hours == pytest.approx(expected)
    assert s.expected_down_hours == 0.0


def test_outage_statistics_when_down() -> None:
    s = zone_stats_series("z", [1, 0, 0], 0.5)[-1]
    assert not s.available and s.age_hours == 1.0 and s.expected_down_hours > 0 and s.expected_up_hours == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.booleans(), min_size=2, max_size=80), st.lists(st.booleans(), max_size=40))
def test_statistics_never_depend_on_the_future(past: list[bool], future: list[bool]) -> None:
    assert zone_stats_series("z", past, 0.1) == zone_stats_series("z", past + future, 0.1)[: len(past)]
