"""The outlook model is causal and estimates what it says: zone run hazards, outage hazards, backup chances."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.outlook import (
    AGE_EDGES,
    MIN_HISTORY_HOURS,
    UnionHistory,
    _hazards,
    outlook_series,
    prior_model,
    unit_ticks,
)


def test_hazard_is_events_over_exposure_blended_with_the_prior() -> None:
    # runs of 1, 1 and 3 units: bucket [0,1) sees 3 units of exposure and 2 endings; [1,2) 1 unit, no ending
    h = _hazards([1, 1, 3], [], 1, 1e9, 1.0)  # a prior that never ends: only its exposure counts
    assert h[0] == pytest.approx(2 / (3 + 4.0), abs=1e-3) and h[1] == pytest.approx(0.0, abs=1e-3)
    assert h[2] == pytest.approx(1 / (1 + 4.0), abs=1e-3)  # the 3-unit run ended in [2, 3)
    prior = prior_model(1 / 6)
    assert len(prior.up_hazard) == len(AGE_EDGES) and prior.up_hazard[0] == pytest.approx(1 / 12, abs=1e-3)


def test_a_run_still_going_counts_as_exposure_only() -> None:
    assert _hazards([], [5], 1, 1e9, 1.0)[0] < _hazards([1], [], 1, 1e9, 1.0)[0]


def test_backup_statistics_of_two_zones() -> None:
    # zone a up throughout; zone b joins and leaves; then a dies while b is up (a switch), then both die
    a = [1] * 100 + [0] * 10
    b = [0] * 40 + [1] * 20 + [0] * 20 + [1] * 30
    history = UnionHistory(1 / 6)
    for col in zip(a, b, strict=True):
        last = history.observe([bool(v) for v in col])
    model = history._fit()
    assert model.backup_gain > 0 and model.backup_loss > 0
    assert sum(model.switch_age) == pytest.approx(1.0, abs=0.02) and model.switch_backed == 0.0
    assert last.up and last.model.unit_hours == pytest.approx(1 / 6, abs=1e-5)


def test_the_model_is_refreshed_only_as_history_grows() -> None:
    tick = 1 / 6
    series = outlook_series([[1, 1, 0] * 400, [0, 1, 1] * 400], tick)
    models = [o.model for o in series]
    first = round(MIN_HISTORY_HOURS / tick)
    assert all(m == prior_model(tick) for m in models[: first - 1]) and models[first - 1] != prior_model(tick)
    assert len(set(models)) < 25  # geometric refreshes: few distinct models, so few programs to solve
    assert unit_ticks(0.054) == 3 and unit_ticks(1 / 6) == 1


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=150),
       st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60))
def test_outlooks_never_depend_on_the_future(past: list[tuple[bool, bool]],
                                             future: list[tuple[bool, bool]]) -> None:
    def series(cols: list[tuple[bool, bool]]) -> list:
        return outlook_series([[c[0] for c in cols], [c[1] for c in cols]], 0.05)

    assert series(past) == series(past + future)[: len(past)]
