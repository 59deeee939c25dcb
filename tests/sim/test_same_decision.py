"""One decision function for the simulator and the daemon: the same state gives the same decision, rebuilt or not.

The daemon cannot keep the simulator's objects: after a restart it rebuilds a `DeadlineState` from stored rows
(job submission and deadline times, checkpointed progress, the live attempt's market and zone, zone statistics).
This test records every state the replay engine hands to `decide()`, round-trips each through plain stored values
(datetimes and JSON-able fields, as a database would hold them) and checks `decide()` answers identically. The daemon's
own state builder (`orchestrator/provisioning/deadline.py`, from real store rows) is exercised in
test_daemon_same_decision.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from orchestrator.sim.engine import SimJob, replay
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE as K
from policies.availability import ZoneStats
from policies.deadline import POLICIES, DeadlineState, Decision, Market, decide
from policies.outlook import Outlook, RunModel
from tests.sim.conftest import synthetic

SUBMITTED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _stored(state: DeadlineState) -> str:
    """What a daemon would persist: absolute times instead of hours since submission, everything JSON."""
    row = asdict(state)
    row["submitted_at"] = SUBMITTED.isoformat()
    row["now"] = (SUBMITTED + timedelta(hours=state.now_hours)).isoformat()
    row["deadline_at"] = (SUBMITTED + timedelta(hours=state.deadline_hours)).isoformat()
    row["market"] = state.market.value
    for key in ("now_hours", "deadline_hours"):
        del row[key]
    return json.dumps(row)


def _rebuilt(text: str) -> DeadlineState:
    row = json.loads(text)
    submitted = datetime.fromisoformat(row.pop("submitted_at"))
    hours = lambda key: (datetime.fromisoformat(row.pop(key)) - submitted).total_seconds() / 3600  # noqa: E731
    now, deadline = hours("now"), hours("deadline_at")
    zones = tuple(ZoneStats(**z) for z in row.pop("zones"))
    raw = row.pop("outlook")
    model = raw["model"]
    model.update(up_hazard=tuple(model["up_hazard"]), down_hazard=tuple(model["down_hazard"]),
                 switch_age=tuple(model["switch_age"]))
    row["outlook"] = Outlook(RunModel(**model), raw["up"], raw["age_hours"])
    return DeadlineState(now_hours=now, deadline_hours=deadline, market=Market(row.pop("market")), zones=zones, **row)


def test_replayed_states_rebuilt_from_storage_get_the_same_decision() -> None:
    traces = synthetic([[1] * 9 + [0] * 5 + [1] * 3 + [0] * 6 + [1] * 60, [0] * 4 + [1] * 20 + [0] * 8 + [1] * 51])
    views = traces.zone_stats()
    for name in POLICIES:
        seen: list[tuple[DeadlineState, Decision]] = []

        def record(state: DeadlineState, name: str = name, seen: list = seen) -> Decision:
            decision = decide(state, name)
            seen.append((state, decision))
            return decision

        result = replay(views, 0, SimJob(12.0, 15.0, 0.2), record, 0.25, K, traces.outlooks())
        assert not result.missed and seen
        for state, decision in seen:
            again = _rebuilt(_stored(state))
            assert decide(again, name) == decision, (name, state)
