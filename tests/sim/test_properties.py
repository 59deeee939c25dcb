"""Properties over random traces: no policy misses a deadline, none beats the d = 0 lower bound."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.sim.bound import lower_bound, tick_prices
from orchestrator.sim.engine import SimJob, replay
from orchestrator.sim.hindsight import hindsight_cost
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE as K
from policies.deadline import POLICIES
from tests.sim.conftest import synthetic

G = 0.25  # tick hours


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[list[int]], SimJob, int]:
    """Bursty 0/1 traces (runs of random length), a job whose deadline is a whole number of ticks."""
    zones = draw(st.integers(1, 3))
    work_ticks = draw(st.integers(4, 40))
    slack_ticks = draw(st.integers(1, 16))
    start = draw(st.integers(0, 10))
    length = start + work_ticks + slack_ticks + 2
    capacity = []
    for _ in range(zones):
        row: list[int] = []
        up = draw(st.booleans())
        while len(row) < length:
            row += [int(up)] * draw(st.integers(1, 12))
            up = not up
        capacity.append(row[:length])
    changeover = draw(st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.4]))
    job = SimJob(work_ticks * G, (work_ticks + slack_ticks) * G, changeover)
    return capacity, job, start


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_policy_misses_and_none_beats_the_lower_bound(case: tuple[list[list[int]], SimJob, int]) -> None:
    capacity, job, start = case
    traces = synthetic(capacity, G)
    views = traces.zone_stats()
    bound = lower_bound(tick_prices(traces, K), start, job.work_hours, job.deadline_hours, G)
    feasible = job.deadline_hours - job.work_hours >= max(2 * job.changeover_hours, job.changeover_hours + G)
    for name, policy in POLICIES.items():
        for subset in [traces, traces.subset([traces.zones[0]])]:
            subset_views = subset.zone_stats() if subset is not traces else views
            result = replay(subset_views, start, job, policy, G, K, subset.outlooks())
            if feasible or (name == "on-demand" and job.deadline_hours - job.work_hours >= job.changeover_hours):
                assert not result.missed, (name, result)
            if not result.missed:
                assert result.cost >= bound - 1e-9 or subset is not traces, (name, result.cost, bound)
                sub_bound = lower_bound(tick_prices(subset, K), start, job.work_hours, job.deadline_hours, G)
                assert result.cost >= sub_bound - 1e-9, (name, result.cost, sub_bound)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_policy_beats_the_hindsight_plan_and_it_never_beats_the_lower_bound(
        case: tuple[list[list[int]], SimJob, int]) -> None:
    """The hindsight plan pays every changeover but knows the future: every replay costs at least as much (it
    is the cheapest replay of the window, which test_hindsight.py checks exhaustively on small windows), and it
    can never be cheaper than the d = 0 bound. Either failing means the plan or the engine mis-prices a
    changeover."""
    capacity, job, start = case
    traces = synthetic(capacity, G)
    bound = lower_bound(tick_prices(traces, K), start, job.work_hours, job.deadline_hours, G)
    plan = hindsight_cost(traces.capacity, start, job.work_hours, job.deadline_hours, job.changeover_hours, G, K)
    assert plan >= bound - 1e-9, (plan, bound)
    views, outlooks = traces.zone_stats(), traces.outlooks()
    for name, policy in POLICIES.items():
        result = replay(views, start, job, policy, G, K, outlooks)
        if not result.missed:
            assert result.cost >= plan - 1e-9, (name, result.cost, plan, capacity, start, job)
