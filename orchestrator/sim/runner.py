"""Many replays -> one row per (trace set, zones, policy, D, d): the numbers `spotwise simulate` and the bench print.

Protocol (BENCHMARKS.md): start ticks come from `random.Random(seed).randrange(0, ticks - n)` with n = floor(D/g), the
same starts for every policy and zone; cost is reported relative to on-demand only, k * (C + d). "single" mode
replays each zone alone and reports the mean over zones (the user pinned a zone); "multi" lets the policy use
every zone of the set. `history_hours` limits what the policy has seen before each start (None: the whole trace
before it; 0: nothing, a daemon started with the job), since a new daemon decides on the prior alone.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

import numpy as np

from orchestrator.sim.bound import lower_bound, tick_prices
from orchestrator.sim.engine import ON_DEMAND, SimJob, replay
from orchestrator.sim.gravity import DataGravity
from orchestrator.sim.traces import TraceSet
from policies.deadline import POLICIES

#: p3.2xlarge in us-west-2: on-demand $3.06/h over spot $0.9731/h (the paper's k).
DEFAULT_ON_DEMAND_PRICE = 3.06 / 0.9731
LOWER_BOUND = "lower-bound"
ALL_POLICIES = (*POLICIES, LOWER_BOUND)


@dataclass(frozen=True)
class ResultRow:
    """One line of the table. Ratios are cost / on-demand-only cost; changeovers and preemptions per job."""

    traces: str
    mode: str
    zones: int
    policy: str
    deadline_hours: float
    changeover_hours: float
    starts: int
    mean: float
    p90: float
    misses: int
    changeovers: float
    preemptions: float
    egress_usd: float = 0.0  # mean egress per job of the checkpoint moves (with a store region; else 0)
    transfer_hours: float = 0.0  # mean hours per job spent fetching the checkpoint (paid, no progress)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class SimulationArgumentError(ValueError):
    """An argument no replay can use (negative hours, NaN, no starts): the caller's mistake, not the traces'."""


def check_arguments(work_hours: float, deadline_hours: float, changeover_hours: float, starts: int,
                    history_hours: float | None = None) -> None:
    """Refuse numbers the engine cannot replay. Why up front: they otherwise surface deep in numpy or the
    engine as IndexError, broadcast errors or 'cannot convert float NaN to integer', naming no argument."""
    problems = []
    if not (math.isfinite(work_hours) and work_hours > 0):
        problems.append(f"job hours must be a positive number, not {work_hours:g}")
    if not math.isfinite(deadline_hours):
        problems.append(f"deadline hours must be a finite number, not {deadline_hours:g}")
    elif math.isfinite(work_hours) and deadline_hours < work_hours:
        problems.append(f"deadline hours ({deadline_hours:g}) must be at least the job hours ({work_hours:g})")
    if not (math.isfinite(changeover_hours) and changeover_hours >= 0):
        problems.append(f"changeover hours must be zero or more, not {changeover_hours:g}")
    if starts < 1:
        problems.append(f"starts must be at least 1, not {starts}")
    if history_hours is not None and not (math.isfinite(history_hours) and history_hours >= 0):
        problems.append(f"history hours must be zero or more, not {history_hours:g}")
    if problems:
        raise SimulationArgumentError("; ".join(problems))


def draw_starts(ticks: int, deadline_hours: float, tick_hours: float, starts: int, seed: int) -> list[int]:
    """The benchmark protocol: `starts` draws of Random(seed).randrange(0, ticks - n), n = floor(D / g)."""
    n = int(deadline_hours / tick_hours + 1e-9)
    if ticks - n <= 0:
        raise ValueError(f"the traces hold {ticks} ticks, fewer than the {n} a {deadline_hours} h deadline needs")
    rng = random.Random(seed)
    return [rng.randrange(0, ticks - n) for _ in range(starts)]


def _views(traces: TraceSet, views_cache: dict, starts: list[int], job: SimJob,
           history_hours: float | None) -> list[tuple[list, list, int]]:
    """Per start: (zone statistics, outlooks, index of the start in them), built once per trace set and history.

    With `history_hours`, each start gets statistics computed afresh from a window that begins that many hours
    before it, so nothing older can reach the policy."""
    key = (traces.name, traces.zones, traces.spot_prices)
    if history_hours is None:
        if key not in views_cache:
            views_cache[key] = (traces.zone_stats(), traces.outlooks())
        views, outlooks = views_cache[key]
        return [(views, outlooks, s) for s in starts]
    g = traces.tick_hours
    window_key = (*key, history_hours, job.deadline_hours, tuple(starts))
    if window_key not in views_cache:
        back, ahead = int(history_hours / g + 1e-9), int(job.deadline_hours / g + 1e-9) + 2
        windows = []
        for s in starts:
            lo = max(0, s - back)
            part = TraceSet(traces.name, traces.zones, g, traces.capacity[:, lo:s + ahead], traces.spot_prices,
                            traces.on_demand_price)
            windows.append((part.zone_stats(), part.outlooks(), s - lo))
        views_cache[window_key] = windows
    return views_cache[window_key]


def _replay_all(traces: TraceSet, policy: str, job: SimJob, starts: list[int], k: float,
                views_cache: dict, history_hours: float | None = None,
                gravity: DataGravity | None = None) -> tuple[np.ndarray, int, float, float, float, float]:
    if gravity is not None:
        job = replace(job, extra_hours=gravity.extra_hours(traces.zones))
    if policy == LOWER_BOUND:
        prices = tick_prices(traces, k, None if traces.spot_prices is None else np.array(traces.spot_prices))
        costs = np.array([lower_bound(prices, s, job.work_hours, job.deadline_hours, traces.tick_hours)
                          for s in starts])
        return costs, 0, 0.0, 0.0, 0.0, 0.0
    results = [replay(views, s, job, POLICIES[policy], traces.tick_hours, k, outlooks)
               for views, outlooks, s in _views(traces, views_cache, starts, job, history_hours)]
    costs = np.array([r.cost for r in results])
    misses = sum(r.missed for r in results)
    egress = float(np.mean([gravity.egress_usd(r.moves) for r in results])) if gravity else 0.0
    moving = float(np.mean([gravity.transfer_hours(r.moves) for r in results])) if gravity else 0.0
    return (costs, misses, float(np.mean([r.changeovers for r in results])),
            float(np.mean([r.preemptions for r in results])), egress, moving)


def run_simulation(traces: TraceSet, policies: Iterable[str] = ALL_POLICIES, *, work_hours: float = 48.0,
                   deadline_hours: float = 52.0, changeover_hours: float = 0.2, starts: int = 300, seed: int = 0,
                   modes: Iterable[str] = ("single", "multi"),
                   on_demand_price: float | None = None,
                   views_cache: dict | None = None, history_hours: float | None = None,
                   gravity: DataGravity | None = None) -> list[ResultRow]:
    """Replay every policy over the same starts; one `ResultRow` per (mode, policy). Deterministic for a seed.

    On-demand costs `on_demand_price` if given, else the trace set's catalog price, else the paper's k.
    `history_hours`: how much of the trace before each start the policy may have seen (None: all of it).
    `gravity`: a checkpoint in a store region that every new instance fetches (transfer time and egress)."""
    cache = {} if views_cache is None else views_cache
    if on_demand_price is None:
        on_demand_price = traces.on_demand_price or DEFAULT_ON_DEMAND_PRICE
    check_arguments(work_hours, deadline_hours, changeover_hours, starts, history_hours)
    modes = tuple(modes)
    bad_modes = [m for m in modes if m not in ("single", "multi")]
    if bad_modes:
        raise SimulationArgumentError(f"unknown mode {bad_modes[0]!r}; choose 'single' or 'multi'")
    unknown = sorted(set(policies) - set(ALL_POLICIES))
    if unknown:
        raise SimulationArgumentError(f"unknown policies {unknown}; choose from {', '.join(ALL_POLICIES)} or 'all'")
    job = SimJob(work_hours, deadline_hours, changeover_hours)
    points = draw_starts(traces.ticks, deadline_hours, traces.tick_hours, starts, seed)
    fetch = dict(gravity.extra_hours(()))[ON_DEMAND] if gravity is not None else 0.0  # on-demand fetches it too
    reference = on_demand_price * (work_hours + changeover_hours + fetch)
    rows = []
    for mode in modes:
        groups = [traces.subset([z]) for z in traces.zones] if mode == "single" else [traces]
        for policy in policies:
            per_group = [_replay_all(g, policy, job, points, on_demand_price, cache, history_hours, gravity)
                         for g in groups]
            ratios = np.concatenate([c for c, *_ in per_group]) / reference
            rows.append(ResultRow(
                traces=traces.name, mode=mode, zones=len(traces.zones), policy=policy,
                deadline_hours=deadline_hours, changeover_hours=changeover_hours, starts=len(points),
                mean=float(np.mean(ratios)), p90=float(np.percentile(ratios, 90)),
                misses=sum(m for _, m, *_ in per_group),
                changeovers=float(np.mean([g[2] for g in per_group])),
                preemptions=float(np.mean([g[3] for g in per_group])),
                egress_usd=float(np.mean([g[4] for g in per_group])),
                transfer_hours=float(np.mean([g[5] for g in per_group]))))
    return rows


def format_table(rows: Iterable[ResultRow]) -> str:
    """A plain-text table (Markdown-compatible) of result rows, in the order given."""
    rows = list(rows)
    gravity = any(r.egress_usd or r.transfer_hours for r in rows)  # columns only for a run with a store region
    head = "| traces | mode | policy | D h | d h | starts | mean | p90 | misses | changeovers | preemptions |"
    head += " transfer h | egress $ |" if gravity else ""
    lines = [head, "|" + "---|" * (13 if gravity else 11)]
    for r in rows:
        zones = f"{r.mode} ({r.zones})"
        lines.append(f"| {r.traces} | {zones} | {r.policy} | {r.deadline_hours:g} | {r.changeover_hours:g} | "
                     f"{r.starts} | {r.mean:.3f} | {r.p90:.3f} | {r.misses} | {r.changeovers:.1f} | "
                     f"{r.preemptions:.1f} |" + (f" {r.transfer_hours:.2f} | {r.egress_usd:.2f} |" if gravity else ""))
    return "\n".join(lines)
