"""The deadline state the daemon builds from stored facts: progress from checkpoints or running time, zones from
offers, blocks and preemptions. Pure: plain objects in, a `DeadlineState` out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.config import Settings
from orchestrator.provisioning.deadline import deadline_state_for, done_hours_for, zones_for
from policies.blocks import Blocks
from policies.deadline import Market, decide
from tests.fakes.provider import make_offer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class Row:
    """Stands for an Attempt row (the builder reads only these fields)."""

    id: str
    state: str
    started_at: datetime | None
    ended_at: datetime | None = None
    created_at: datetime = T0
    launched_at: datetime | None = None


@dataclass
class Event:
    at: datetime
    attempt_id: str | None
    reason: str
    kind: str = "checkpoint"


@dataclass
class JobRow:
    deadline_at: datetime | None
    submitted_at: datetime = T0
    spec: dict[str, Any] = field(default_factory=lambda: {"name": "j", "run": "true", "estimated_runtime": "2h",
                                                          "resources": {"accelerators": "T4:1"}})


def test_progress_without_checkpoints_is_the_running_time_of_all_attempts() -> None:
    attempts = [Row("a1", "PREEMPTED", at(10), at(40)), Row("a2", "LAUNCH_FAILED", None, at(41)),
                Row("a3", "RUNNING", at(50))]
    assert done_hours_for(attempts, [], at(80)) == (pytest.approx(1.0), "running time of the attempts")
    assert done_hours_for([Row("a1", "LAUNCH_FAILED", None, at(1))], [], at(80)) == (0.0, "no run yet")


def test_progress_is_what_the_latest_checkpoint_saved_along_the_resume_chain() -> None:
    attempts = [Row("a1", "PREEMPTED", at(0), at(40)), Row("a2", "PREEMPTED", at(50), at(100)),
                Row("a3", "LAUNCHING", None)]
    events = [
        Event(at(20), "a1", "uploaded checkpoint 000001 (3 files, 10 bytes)"),
        Event(at(35), "a1", "uploaded checkpoint 000002 (3 files, 10 bytes)"),  # 5 minutes lost at a1's end
        Event(at(50), "a2", "restored checkpoint 000002 (3 files, 10 bytes)"),
        Event(at(80), "a2", "uploaded checkpoint 000003 (3 files, 10 bytes, preemption)"),
        Event(at(10), "other", "uploaded checkpoint 000009 (1 files, 1 bytes)"),  # not this job's attempt
    ]
    done, source = done_hours_for(attempts, events, at(120))
    assert done == pytest.approx((35 + 30) / 60) and source == "checkpoint 000003"


def test_zones_are_sorted_blocked_ones_unavailable_and_preemptions_shorten_the_lifetime() -> None:
    b, a, od = make_offer("c", "z-b", 0.2), make_offer("c", "z-a", 0.1), make_offer("c", "z-a", 0.9, spot=False)
    blocks = Blocks()
    blocks.block("pool", a.pool, at(3).timestamp(), "capacity")
    zones, od_price = zones_for([b, a, od], blocks, T0, {b.pool: 1})
    assert [z.zone for z in zones] == ["z-a", "z-b"] and od_price == 0.9
    assert not zones[0].available and zones[0].expected_down_hours == pytest.approx(0.05)
    assert zones[1].available and zones[1].expected_up_hours == pytest.approx(1.0) and zones[1].spot_price == 0.2


def test_the_state_is_measured_from_submission_and_the_policy_answers_it() -> None:
    job = JobRow(deadline_at=at(180))
    settings = Settings(changeover_seconds=360, providers={})
    offers = [make_offer("c", "z-a", 0.1), make_offer("c", "z-a", 0.9, spot=False)]
    state = deadline_state_for(job, [], [], offers, at(30), settings, tick_seconds=120)
    assert (state.now_hours, state.deadline_hours, state.work_hours, state.done_hours) == (0.5, 3.0, 2.0, 0.0)
    assert state.changeover_hours == 0.1 and state.tick_hours == pytest.approx(120 / 3600)
    assert state.market is Market.NONE and state.on_demand_price == 0.9 and state.zones[0].available
    assert decide(state, "spotwise").market is Market.SPOT
    late = deadline_state_for(job, [], [], offers, at(55), settings)  # slack 0.08 h < the safety net's 0.2 h
    assert decide(late, "spotwise").market is Market.ON_DEMAND
    with pytest.raises(ValueError, match="deadline"):
        deadline_state_for(JobRow(deadline_at=None), [], [], offers, at(0), settings)


def test_the_policy_prefers_the_cheaper_zone_when_lifetimes_are_alike() -> None:
    """Every zone starts from the same prior lifetime, so before this rule the policy's zone (which placement
    ranks first) was the first by name: z-a at three times z-b's price."""
    job = JobRow(deadline_at=at(240))
    settings = Settings(changeover_seconds=360, providers={})
    offers = [make_offer("c", "z-a", 0.3), make_offer("c", "z-b", 0.1), make_offer("c", "z-a", 0.9, spot=False)]
    state = deadline_state_for(job, [], [], offers, at(0), settings)
    decision = decide(state, "spotwise")
    assert decision.market is Market.SPOT and decision.zone == "z-b"
    # the cheaper zone lost two instances to preemption lately, so its expected run is a third of the prior:
    # 0.8 $/h saved for 0.67 h is less than 0.6 $/h for 2 h in the dearer zone
    state = deadline_state_for(job, [], [], offers, at(0), settings, preemptions={offers[1].pool: 2})
    assert decide(state, "spotwise").zone == "z-a"


def test_transfer_time_of_the_jobs_data_is_part_of_every_changeover() -> None:
    """A 360 GB checkpoint in aws us-east-1: 1 h at the default 100 MB/s to a gcp zone, 24 min at 250 MB/s beside
    it. The changeover the policy sees is the configured one plus the longest of those (the safety net must not
    count on the quick one), and the slack shrinks accordingly: a job with 1.5 h of slack goes on-demand."""
    from orchestrator.provisioning.deadline import changeover_transfer_hours
    from policies.egress import TransferRates
    from policies.totalcost import DataItem, DataProfile

    settings = Settings(changeover_seconds=360)  # 0.1 h
    offers = [make_offer("aws", "us-east-1a", 1.0), make_offer("gcp", "us-central1-a", 0.8),
              make_offer("aws", "us-east-1b", 3.0, spot=False)]
    data = (DataProfile((DataItem("checkpoint", "aws", "us-east-1", 360 * 10**9),), 2.0), TransferRates())
    extra = changeover_transfer_hours(offers, data)
    assert extra == pytest.approx(1.0)
    assert changeover_transfer_hours(offers, None) == 0.0
    job = JobRow(deadline_at=at(210))  # 3.5 h for 2 h of work
    plain = deadline_state_for(job, [], [], offers, at(0), settings)
    heavy = deadline_state_for(job, [], [], offers, at(0), settings, transfer_hours=extra)
    assert plain.changeover_hours == pytest.approx(0.1) and heavy.changeover_hours == pytest.approx(1.1)
    assert decide(plain).market is Market.SPOT
    assert decide(heavy).market is Market.ON_DEMAND  # 1.5 h of slack is under two 1.1 h changeovers
