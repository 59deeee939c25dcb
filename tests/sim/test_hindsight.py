"""The hindsight plan is the cheapest replay of the window, found by exhaustive search through the real engine.

On small windows every sequence of per-tick decisions (wait, on-demand, spot in each zone) is replayed by
`orchestrator.sim.engine.replay`; the plan's dynamic program must equal the cheapest one that meets the
deadline, for changeovers shorter than, equal to and longer than a tick. An earlier plan booked changeovers as
slack without moving its work later in time, and a replay on a random trace beat it."""

from __future__ import annotations

import itertools
import random

import pytest

from orchestrator.sim.engine import SimJob, replay
from orchestrator.sim.hindsight import hindsight_cost
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE as K
from policies.deadline import DeadlineState, Decision, Market
from tests.sim.conftest import synthetic

G = 0.25


def _cheapest_replay(capacity: list[list[int]], job: SimJob) -> float:
    traces = synthetic(capacity, G)
    views = traces.zone_stats()
    choices = [Decision(Market.NONE, None, "wait"), Decision(Market.ON_DEMAND, None, "on-demand")]
    choices += [Decision(Market.SPOT, z, f"spot in {z}") for z in traces.zones]
    ticks = int(job.deadline_hours / G + 1e-9) + 1
    best = float("inf")
    for script in itertools.product(range(len(choices)), repeat=ticks):
        def scripted(state: DeadlineState, script: tuple[int, ...] = script) -> Decision:
            decision = choices[script[round(state.now_hours / G)]]
            zone = next((z for z in state.zones if z.zone == decision.zone), None)
            if zone is not None and not zone.available:
                raise LookupError  # this script asks for capacity the trace does not have
            return decision
        try:
            result = replay(views, 0, job, scripted, G, K)
        except LookupError:
            continue
        if not result.missed:
            best = min(best, result.cost)
    return best


CASES = []
_rng = random.Random(7)
for _ in range(14):
    zones, work, slack = _rng.randint(1, 2), _rng.randint(2, 4), _rng.randint(1, 2)
    changeover = _rng.choice([0.0, 0.1, 0.2, 0.25, 0.4, 0.6])
    CASES.append(([[_rng.randint(0, 1) for _ in range(work + slack + 2)] for _ in range(zones)],
                  SimJob(work * G, (work + slack) * G, changeover)))
# the window a property test found: spot returns for good late, and changeovers push the work into it
CASES.append(([[0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1]], SimJob(1.25, 2.25, 0.2)))


@pytest.mark.parametrize(("capacity", "job"), CASES)
def test_the_plan_is_the_cheapest_replay(capacity: list[list[int]], job: SimJob) -> None:
    cheapest = _cheapest_replay(capacity, job)  # inf where a changeover is longer than the slack
    plan = hindsight_cost(synthetic(capacity, G).capacity, 0, job.work_hours, job.deadline_hours,
                          job.changeover_hours, G, K)
    assert plan == pytest.approx(cheapest, abs=1e-9) if cheapest < float("inf") else plan == float("inf")
