"""The acceptance point "the simulator and the daemon make the same decision for the same state".

The simulator replays a job over a trace and hands `decide()` a `DeadlineState` it builds tick by tick. The daemon
builds its state in `orchestrator/provisioning/deadline.py` from store rows (the job's submission and deadline, its
attempts, its checkpoint reports) and the offers it sees (blocked pools are zones without capacity). This test
records every moment the simulated job waits for placement (no live instance: the only moment the daemon decides),
writes the same situation into a real SQLite store (a preempted attempt whose last checkpoint saved exactly the
simulated progress, a spot offer per zone with the zones that have no capacity blocked until their outage's
expected end), reads the rows back, builds the daemon's state and checks both states agree on every fact the
model has and that every policy gives the same `Decision` for both.

The daemon keeps no per-zone observation history, so its zones have age 0 and a prior lifetime where the
simulator has measured ones; the trace is laid out so that at most one zone has capacity at each placement
moment, where no policy's choice depends on those estimates. `spotwise-dp` reads the union's run model that only
the simulator has (the daemon hands it the prior), so it is compared on the shared facts, not the decision.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.checkpoint.jobs import UPLOADED_PREFIX
from orchestrator.config import Settings
from orchestrator.jobs.attempts import AttemptState
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import submit
from orchestrator.provisioning.deadline import deadline_state_for
from orchestrator.sim.engine import SimJob, replay
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE as K
from orchestrator.store.db import make_engine, make_session_factory, migrate, transaction
from orchestrator.store.tables import Attempt, Job, JobEvent
from policies.blocks import Blocks
from policies.deadline import DeadlineState, Decision, Market, decide
from tests.fakes.provider import make_offer
from tests.sim.conftest import synthetic

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
G = 0.25  # tick hours (the daemon's tick: 900 s)
D_SECONDS = 720.0  # changeover 0.2 h
#: Zone a: up, a long outage, up, a short outage, up. Zone b: a short run inside a's long outage.
CAPACITY = [[1] * 8 + [0] * 12 + [1] * 8 + [0] * 6 + [1] * 50,
            [0] * 10 + [1] * 3 + [0] * 71]
#: Decisions that depend on nothing the daemon lacks (see the module docstring).
SAME_DECISION = ("on-demand", "greedy", "uniform-progress", "spotwise")


def _placement_moments(job: SimJob, policy: str) -> list[DeadlineState]:
    """Every state of a replay in which the job has no live instance (what the daemon decides on)."""
    traces = synthetic(CAPACITY, G)
    seen: list[DeadlineState] = []

    def record(state: DeadlineState) -> Decision:
        if state.market is Market.NONE and not state.finished:
            seen.append(state)
        return decide(state, policy)

    result = replay(traces.zone_stats(), 0, job, record, G, K, traces.outlooks())
    assert not result.missed
    return seen


def _daemon_state(sessions: sessionmaker[Session], sim: DeadlineState) -> DeadlineState:
    """Store the simulated situation as rows of a new job, read them back, build the daemon's state."""
    spec = JobSpec(name="j", run="true", team="a", deadline=timedelta(hours=sim.deadline_hours),
                   estimated_runtime=timedelta(hours=sim.work_hours), resources={"accelerators": "T4:1"})
    now = T0 + timedelta(hours=sim.now_hours)
    with transaction(sessions) as s:
        job_id = submit(s, spec, now=T0).id
        if sim.done_hours > 0:  # one preempted attempt whose last checkpoint saved exactly the simulated progress
            s.add(Attempt(id=f"{job_id}-1", job_id=job_id, number=1, idempotency_key=f"{job_id}-1",
                          state=AttemptState.PREEMPTED, provider="local", region="r", zone="zone-a",
                          instance_type="t", spot=True, price_per_hour=1.0, offer={}, created_at=T0,
                          launched_at=T0, started_at=T0, ended_at=now, end_reason="preempted", launch_tries=1))
            s.add(JobEvent(job_id=job_id, at=T0 + timedelta(hours=sim.done_hours), attempt_id=f"{job_id}-1",
                           kind="checkpoint", reason=f"{UPLOADED_PREFIX}000001 (3 files, 10 bytes)"))
    offers = [make_offer("local", z.zone, z.spot_price, region="r") for z in sim.zones]
    offers.append(make_offer("local", "zone-a", sim.on_demand_price, spot=False, region="r"))
    blocked = Blocks()
    for z, offer in zip(sim.zones, offers, strict=False):
        if not z.available:
            blocked.block("pool", offer.pool, (now + timedelta(hours=z.expected_down_hours)).timestamp(), "capacity")
    settings = Settings(changeover_seconds=D_SECONDS, reconcile_interval_seconds=2.0, providers={})
    with transaction(sessions) as s:
        job = s.scalars(select(Job).where(Job.id == job_id)).one()
        attempts = list(s.scalars(select(Attempt).where(Attempt.job_id == job_id)))
        events = list(s.scalars(select(JobEvent).where(JobEvent.job_id == job_id)))
        state = deadline_state_for(job, attempts, events, offers, now, settings, blocked=blocked,
                                   tick_seconds=G * 3600)
    return state


@pytest.mark.parametrize("deadline_hours", [15.0, 12.75])  # ample slack (3 h) and little (0.75 h)
def test_the_daemon_rebuilds_the_simulated_state_from_store_rows_and_decides_the_same(
        tmp_path: Path, deadline_hours: float) -> None:
    job = SimJob(12.0, deadline_hours, D_SECONDS / 3600)
    moments = [m for policy in SAME_DECISION for m in _placement_moments(job, policy)]
    assert len(moments) >= 8
    decisions: set[tuple[str, Market]] = set()
    engine = make_engine(f"sqlite:///{tmp_path / 'spotwise.db'}")
    migrate(engine)
    sessions = make_session_factory(engine)
    for sim in moments:
        daemon = _daemon_state(sessions, sim)
        facts = ("now_hours", "deadline_hours", "work_hours", "done_hours", "changeover_hours", "tick_hours",
                 "changeover_left_hours", "on_demand_price")
        for name in facts:
            assert getattr(daemon, name) == pytest.approx(getattr(sim, name), abs=1e-6), name
        assert (daemon.market, daemon.zone) == (sim.market, sim.zone)
        assert [(z.zone, z.available, z.spot_price) for z in daemon.zones] == \
            [(z.zone, z.available, z.spot_price) for z in sim.zones]
        assert sum(z.available for z in sim.zones) <= 1
        for policy in SAME_DECISION:
            ours = decide(sim, policy)
            assert decide(daemon, policy) == ours, (policy, sim, daemon)
            decisions.add((policy, ours.market))
    engine.dispose()
    # the moments cover the interesting answers: spot where there is capacity, waiting, and on-demand
    assert {m for _, m in decisions} == {Market.SPOT, Market.NONE, Market.ON_DEMAND}
