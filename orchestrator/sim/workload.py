"""Multi-job mode: replay a workload file of jobs over one trace set and total the bill.

Workload file (JSON): `{"jobs": [{"name": "a", "hours": 48, "deadline_hours": 52, "submit_hours": 0, "gpus": 1},
...]}`. Each job is replayed from the tick of its submission through the chosen policy, all zones allowed. Jobs do
not compete for capacity: 1-node traces say whether one instance could be had, not how many, so contention
would be invented. `gpus` scales a job's cost (that many single-GPU instances' worth), not its availability.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from orchestrator.sim.engine import SimJob, replay
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE
from orchestrator.sim.traces import TraceSet
from policies.deadline import POLICIES


@dataclass(frozen=True)
class WorkloadJob:
    name: str
    hours: float
    deadline_hours: float
    submit_hours: float = 0.0
    gpus: int = 1


@dataclass(frozen=True)
class WorkloadResult:
    """Totals over a workload; `cost` and `on_demand_cost` in spot-price-hours, misses as job names."""

    policy: str
    jobs: int
    cost: float
    on_demand_cost: float
    missed: tuple[str, ...]
    preemptions: int
    changeovers: int


def load_workload(path: str | Path) -> list[WorkloadJob]:
    """Parse a workload file; unknown keys are an error (with the valid ones listed)."""
    doc = json.loads(Path(path).read_text())
    allowed = {"name", "hours", "deadline_hours", "submit_hours", "gpus"}
    jobs = []
    for i, raw in enumerate(doc["jobs"]):
        extra = set(raw) - allowed
        if extra:
            raise ValueError(f"job {i}: unknown keys {sorted(extra)}; valid keys are {sorted(allowed)}")
        jobs.append(WorkloadJob(name=str(raw.get("name", f"job-{i}")), hours=float(raw["hours"]),
                                deadline_hours=float(raw["deadline_hours"]),
                                submit_hours=float(raw.get("submit_hours", 0.0)), gpus=int(raw.get("gpus", 1))))
    return jobs


def run_workload(traces: TraceSet, jobs: list[WorkloadJob], policy: str = "spotwise", *,
                 changeover_hours: float = 0.2, on_demand_price: float = DEFAULT_ON_DEMAND_PRICE,
                 views: list | None = None) -> WorkloadResult:
    """Replay every job of the workload with `policy`; deterministic (no randomness at all)."""
    views = traces.zone_stats() if views is None else views
    outlooks = traces.outlooks()
    cost = od_cost = 0.0
    missed: list[str] = []
    pre = chg = 0
    for job in jobs:
        start = int(job.submit_hours / traces.tick_hours + 1e-9)
        if start + job.deadline_hours / traces.tick_hours > traces.ticks:
            raise ValueError(f"job {job.name} runs past the end of the traces ({traces.ticks} ticks)")
        result = replay(views, start, SimJob(job.hours, job.deadline_hours, changeover_hours), POLICIES[policy],
                        traces.tick_hours, on_demand_price, outlooks)
        cost += result.cost * job.gpus
        od_cost += on_demand_price * (job.hours + changeover_hours) * job.gpus
        pre += result.preemptions
        chg += result.changeovers
        if result.missed:
            missed.append(job.name)
    return WorkloadResult(policy, len(jobs), cost, od_cost, tuple(missed), pre, chg)
