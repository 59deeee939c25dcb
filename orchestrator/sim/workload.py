"""Multi-job mode: replay a workload file of jobs over one trace set and total the bill.

Workload file (JSON): `{"jobs": [{"name": "a", "hours": 48, "deadline_hours": 52, "submit_hours": 0, "gpus": 1},
...]}`. Each job is replayed from the tick of its submission through the chosen policy, all zones of the trace set
allowed. Jobs do not compete for capacity: 1-node traces say whether one instance could be had, not how many, so
contention would be invented. `gpus` scales a job's cost (that many single-GPU instances' worth), not its
availability. Costs are in spot-price-hours (a spot hour costs 1, on-demand k), as in the single-job tables.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from orchestrator.sim.bound import lower_bound, tick_prices
from orchestrator.sim.engine import SimJob, replay
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE, LOWER_BOUND, SimulationArgumentError
from orchestrator.sim.traces import TraceSet
from policies.deadline import POLICIES

_KEYS = {"name", "hours", "deadline_hours", "submit_hours", "gpus"}


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

    @property
    def ratio(self) -> float:
        """Cost relative to running every job on on-demand from its submission (one changeover each)."""
        return self.cost / self.on_demand_cost if self.on_demand_cost else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "missed": list(self.missed), "ratio": self.ratio}


class WorkloadError(ValueError):
    """A workload file that cannot be replayed; the message names the file and the job."""


def load_workload(path: str | Path) -> list[WorkloadJob]:
    """Parse and check a workload file. Every problem names the job (by index and name) and the key, so a
    thousand-job file can be fixed from the message alone; nothing is replayed until all jobs are valid."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise WorkloadError(f"cannot read workload {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise WorkloadError(f"workload {path} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list) or not doc["jobs"]:
        raise WorkloadError(f'workload {path} must be {{"jobs": [...]}} with at least one job')
    jobs, problems = [], []
    for i, raw in enumerate(doc["jobs"]):
        try:
            jobs.append(_job(i, raw))
        except WorkloadError as exc:
            problems.append(str(exc))
    seen: set[str] = set()
    for job in jobs:
        if job.name in seen:
            problems.append(f"job name {job.name!r} is used twice; names identify missed jobs in the report")
        seen.add(job.name)
    if problems:
        raise WorkloadError(f"workload {path}: " + "; ".join(problems[:10])
                            + (f"; and {len(problems) - 10} more" if len(problems) > 10 else ""))
    return jobs


def _job(i: int, raw: object) -> WorkloadJob:
    if not isinstance(raw, dict):
        raise WorkloadError(f"job {i} must be an object with keys {sorted(_KEYS)}")
    name = str(raw.get("name", f"job-{i}"))
    where = f"job {i} ({name})"
    extra, missing = set(raw) - _KEYS, {"hours", "deadline_hours"} - set(raw)
    if extra:
        raise WorkloadError(f"{where}: unknown keys {sorted(extra)}; valid keys are {sorted(_KEYS)}")
    if missing:
        raise WorkloadError(f"{where}: missing {', '.join(sorted(missing))}")
    numbers = {}
    for key, default in (("hours", None), ("deadline_hours", None), ("submit_hours", 0.0), ("gpus", 1)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise WorkloadError(f"{where}: {key} must be a finite number, not {value!r}")
        numbers[key] = value
    if numbers["hours"] <= 0:
        raise WorkloadError(f"{where}: hours must be positive, not {numbers['hours']:g}")
    if numbers["deadline_hours"] < numbers["hours"]:
        raise WorkloadError(f"{where}: deadline_hours ({numbers['deadline_hours']:g}) must be at least hours "
                            f"({numbers['hours']:g})")
    if numbers["submit_hours"] < 0:
        raise WorkloadError(f"{where}: submit_hours must be zero or more, not {numbers['submit_hours']:g}")
    if numbers["gpus"] != int(numbers["gpus"]) or numbers["gpus"] < 1:
        raise WorkloadError(f"{where}: gpus must be a whole number of at least 1, not {numbers['gpus']!r}")
    return WorkloadJob(name, float(numbers["hours"]), float(numbers["deadline_hours"]),
                       float(numbers["submit_hours"]), int(numbers["gpus"]))


def check_fits(traces: TraceSet, jobs: list[WorkloadJob]) -> None:
    """Refuse jobs whose deadline lies past the end of the traces, all of them in one message."""
    late = [f"{j.name} (submitted at {j.submit_hours:g} h, due at {j.submit_hours + j.deadline_hours:g} h)"
            for j in jobs if _start(traces, j) + int(j.deadline_hours / traces.tick_hours + 1e-9) > traces.ticks]
    if late:
        end = traces.ticks * traces.tick_hours
        raise WorkloadError(f"the traces {traces.name} cover {end:g} h; these jobs run past their end: "
                            + ", ".join(late[:10]) + (f" and {len(late) - 10} more" if len(late) > 10 else ""))


def _start(traces: TraceSet, job: WorkloadJob) -> int:
    return int(job.submit_hours / traces.tick_hours + 1e-9)


def run_workload(traces: TraceSet, jobs: list[WorkloadJob], policy: str = "spotwise", *,
                 changeover_hours: float = 0.2, on_demand_price: float | None = None,
                 views: list | None = None, outlooks: list | None = None) -> WorkloadResult:
    """Replay every job of the workload with `policy` (or price the d = 0 lower bound); deterministic.

    On-demand costs `on_demand_price` if given, else the trace set's catalog price, else the paper's k."""
    if on_demand_price is None:
        on_demand_price = traces.on_demand_price or DEFAULT_ON_DEMAND_PRICE
    if not (math.isfinite(changeover_hours) and changeover_hours >= 0):
        raise SimulationArgumentError(f"changeover hours must be zero or more, not {changeover_hours:g}")
    if policy != LOWER_BOUND and policy not in POLICIES:
        raise SimulationArgumentError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}, "
                                      f"{LOWER_BOUND}")
    check_fits(traces, jobs)
    od_cost = sum(on_demand_price * (j.hours + changeover_hours) * j.gpus for j in jobs)
    if policy == LOWER_BOUND:
        prices = tick_prices(traces, on_demand_price,
                             None if traces.spot_prices is None else np.array(traces.spot_prices))
        cost = sum(lower_bound(prices, _start(traces, j), j.hours, j.deadline_hours, traces.tick_hours) * j.gpus
                   for j in jobs)
        return WorkloadResult(policy, len(jobs), cost, od_cost, (), 0, 0)
    views = traces.zone_stats() if views is None else views
    outlooks = traces.outlooks() if outlooks is None else outlooks
    cost = 0.0
    missed: list[str] = []
    pre = chg = 0
    for job in jobs:
        result = replay(views, _start(traces, job), SimJob(job.hours, job.deadline_hours, changeover_hours),
                        POLICIES[policy], traces.tick_hours, on_demand_price, outlooks)
        cost += result.cost * job.gpus
        pre += result.preemptions
        chg += result.changeovers
        if result.missed:
            missed.append(job.name)
    return WorkloadResult(policy, len(jobs), cost, od_cost, tuple(missed), pre, chg)


def format_workload_table(results: list[WorkloadResult]) -> str:
    """Markdown-compatible table: totals per policy, cost relative to all-on-demand."""
    lines = ["| policy | jobs | cost (spot-h) | on-demand cost | cost / on-demand | misses | preemptions | "
             "changeovers |", "|" + "---|" * 8]
    for r in results:
        lines.append(f"| {r.policy} | {r.jobs} | {r.cost:.1f} | {r.on_demand_cost:.1f} | {r.ratio:.3f} | "
                     f"{len(r.missed)} | {r.preemptions} | {r.changeovers} |")
    return "\n".join(lines)
