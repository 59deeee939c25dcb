"""The dynamic-programming deadline policy: a sound program, sensible answers, and optimal on its own model."""

from __future__ import annotations

import random
import time

import numpy as np

from orchestrator.sim.engine import SimJob, replay
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE as K
from orchestrator.sim.traces import TraceSet
from policies.deadline import POLICIES
from policies.deadline_dp import ON_DEMAND, SPOT, WAIT, _transitions, best_action, solve
from policies.outlook import AGE_EDGES, Outlook, RunModel, age_bucket, outlook_series, prior_model

G = 1 / 6
#: Short runs die young, long ones last (the shape real spot traces have); outages mostly short.
MODEL = RunModel(round(G, 6), (0.3, 0.15, 0.1, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02, 0.02, 0.02, 0.01, 0.01, 0.01),
                 (0.35, 0.3, 0.25, 0.1, 0.1, 0.1, 0.08, 0.06, 0.06, 0.1, 0.1, 0.15, 0.15, 0.15))


def test_transition_rows_are_distributions() -> None:
    models = [prior_model(G), MODEL, outlook_series([[1, 0, 1, 1] * 200, [0, 1, 1, 0] * 200], G)[-1].model]
    for model in models:
        kept, lost = _transitions(model)
        assert np.allclose((kept + lost).sum(axis=1), 1.0) and (kept >= 0).all() and (lost >= 0).all()


def _act(slack: float, time_left: float, *, on_demand: bool = False, up: bool = False, age: float = 0.5) -> int:
    return best_action(MODEL, K, 0.2, 0.4, 52.0, 48.0, time_left, slack, on_demand, up, False, age)


def test_answers_where_the_right_one_is_plain() -> None:
    assert _act(0.3, 40.0) == ON_DEMAND  # below the safety net: on-demand, as the net would force
    assert _act(4.0, 5.0) == WAIT  # an hour of work, four of slack: waiting costs nothing
    assert _act(3.0, 33.0, up=True, age=20.0) == SPOT  # a long-lived run: take it
    assert _act(3.0, 33.0, on_demand=True, up=True, age=20.0) == SPOT
    assert age_bucket(0.5) == 0 and age_bucket(1e6) == len(AGE_EDGES) - 1


def test_tables_are_solved_once_per_model_and_job_shape() -> None:
    solve.cache_clear()
    began = time.perf_counter()
    _act(2.0, 20.0)
    first = time.perf_counter() - began
    for slack in (1.0, 2.0, 3.0):
        _act(slack, 30.0, up=True)
    assert solve.cache_info().misses == 1 and solve.cache_info().hits == 3
    assert first < 5.0  # D = 52 h on 10-minute units: a fraction of a second in practice


def _draw(model: RunModel, ticks: int, seed: int) -> list[int]:
    """A single-zone trace whose runs follow `model` exactly (one tick = one unit)."""
    rng = random.Random(seed)
    up, age, out = True, 0, []
    for _ in range(ticks):
        hazard = (model.up_hazard if up else model.down_hazard)[age_bucket(age)]
        out.append(int(up))
        age += 1
        if rng.random() < hazard:
            up, age = not up, 0
    return out


def test_on_traces_drawn_from_its_own_model_it_matches_the_heuristic() -> None:
    """Where the model is right the program is optimal up to its discretisation: far cheaper than Uniform Progress,
    with no miss, and within 1% of the slack-reserve heuristic. (It beat the heuristic by 1.8% here until the
    heuristic's constants were retuned on the real traces in 2026-11; since then they tie on this model, seeds 2-4
    within 0.5% either way: the heuristic is close to the best decisions this model class allows.)"""
    capacity = _draw(MODEL, 8000, 2)
    traces = TraceSet("drawn", ("z",), G, np.array([capacity], dtype=np.int32))
    views = traces.zone_stats()
    outlooks = [Outlook(MODEL, o.up, o.age_hours) for o in traces.outlooks()]
    job = SimJob(48.0, 52.0, 0.2)
    starts = random.Random(0).sample(range(0, len(capacity) - 400), 100)
    cost = {}
    for name in ("spotwise", "spotwise-dp", "uniform-progress"):
        results = [replay(views, s, job, POLICIES[name], G, K, outlooks) for s in starts]
        assert not any(r.missed for r in results)
        cost[name] = float(np.mean([r.cost for r in results]))
    assert cost["spotwise-dp"] < 1.01 * cost["spotwise"] and cost["spotwise"] < cost["uniform-progress"], cost
    assert cost["spotwise-dp"] < 0.9 * cost["uniform-progress"], cost


def test_a_backed_run_is_taken_where_the_same_run_alone_is_not() -> None:
    """With another zone to fall back on, a preemption costs one changeover instead of two: the program leaves
    on-demand for a young run earlier when it is backed, and never later."""
    model = RunModel(MODEL.unit_hours, MODEL.up_hazard, MODEL.down_hazard, 0.2, 0.05,
                     tuple(1.0 if b == 9 else 0.0 for b in range(len(AGE_EDGES))), 0.0)

    def act(slack: float, age: float, backed: bool) -> int:
        return best_action(model, K, 0.2, 0.4, 52.0, 48.0, 40.0 + slack, slack, True, True, backed, age)

    grid = [(slack, age) for slack in (0.8, 1.0, 2.0, 3.5) for age in (0.2, 0.4, 0.7, 1.5)]
    assert all(act(s, a, True) == SPOT for s, a in grid if act(s, a, False) == SPOT)
    assert act(2.0, 0.4, True) == SPOT and act(2.0, 0.4, False) == ON_DEMAND
