"""Which of Spotwise's decisions could still save money, and can anything causal predict them?

Run: `.venv/bin/python bench/policy_levers.py [--starts 300]`. Two tables, multi-zone, D = 52 h, d = 0.2 h:

1. Levers. The default policy is replayed with ONE kind of decision handed to an oracle that reads the trace's
   future (analysis only: no daemon can do this), everything else unchanged. A lever whose oracle saves little
   is not worth predicting better; the ones that save a lot say what a predictor would have to know.
   - leave on-demand: on on-demand with spot up, leave iff the run will last another hour (any age, or only
     runs at least 2d old, as the policy's own rule allows);
   - wait out an outage: idle with no spot where the policy bridges with on-demand, wait iff spot is back next tick;
   - take spot from idle: take it iff the run will last 2 more ticks, otherwise on-demand;
   - move zones: on spot whose run ends within the hour, move to a zone whose run lasts an hour longer;
   - and, as the last row, no oracle: the "leave on-demand" lever driven by a model fitted causally on the
     signals of table 2.
   Every oracle keeps the safety net, so none misses a deadline (the table says).
2. Predictors. For the lever that pays, the question is "will a run that came back one tick ago last another
   hour?". The table gives, per causal signal, the area under the ROC curve (0.5 = a coin), and a logistic
   regression on all of them fitted on the first half of the trace and scored on the second, and the reverse.

Needs ../shared/data/spot-traces (relative to the repository root).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.sim.engine import SimJob, replay  # noqa: E402
from orchestrator.sim.runner import DEFAULT_ON_DEMAND_PRICE, draw_starts  # noqa: E402
from orchestrator.sim.traces import TraceSet, load_trace_set  # noqa: E402
from policies.deadline import DeadlineState, Decision, Market, Policy, spotwise  # noqa: E402

TRACES = ROOT.parent / "shared" / "data" / "spot-traces" / "availability" / "1-node"
SETS = {"aws-10-26-2022": "*_v100_1.json", "aws-02-15-2023": "*.json"}
C, D, CHANGEOVER = 48.0, 52.0, 0.2
_EPS = 1e-9


class Future:
    """What the oracles read: per zone and tick, how many more ticks its run lasts; per tick, the outage of all."""

    def __init__(self, traces: TraceSet) -> None:
        up = traces.capacity > 0
        zones, n = up.shape
        self.run_left = np.zeros((zones, n + 1), dtype=np.int64)
        self.outage_left = np.zeros(n + 1, dtype=np.int64)
        union = np.any(up, axis=0, keepdims=False).astype(bool)
        for t in range(n - 1, -1, -1):
            self.run_left[:, t] = np.where(up[:, t], self.run_left[:, t + 1] + 1, 0)
            self.outage_left[t] = 0 if union[t] else self.outage_left[t + 1] + 1
        self.zone_index = {z: i for i, z in enumerate(traces.zones)}


Lever = Callable[[DeadlineState, Decision, Future, int], Decision]


def _tick(state: DeadlineState, start: int) -> int:
    return start + int(round(state.now_hours / state.tick_hours))


def leave_on_demand(min_age_changeovers: float) -> Lever:
    """On on-demand with spot up: leave iff the best zone's run lasts another hour (and runs this old may go)."""
    def lever(state: DeadlineState, base: Decision, future: Future, start: int) -> Decision:
        up = [z for z in state.zones if z.available]
        if state.market is not Market.ON_DEMAND or not up or base.final:
            return base
        best = max(up, key=lambda z: z.expected_up_hours)  # the policy's own zone choice
        if best.age_hours < min_age_changeovers * state.changeover_hours - _EPS:
            return base
        lasts = future.run_left[future.zone_index[best.zone], _tick(state, start)] * state.tick_hours
        safe = state.slack - state.changeover_hours >= state.safety_slack - _EPS
        if lasts >= 1.0 + 1.0 * state.tick_hours - _EPS and safe:
            return Decision(Market.SPOT, best.zone, "oracle: this run lasts another hour")
        return Decision(Market.ON_DEMAND, None, "oracle: this run ends within the hour")
    return lever


def wait_out_outage(state: DeadlineState, base: Decision, future: Future, start: int) -> Decision:
    """Where the policy bridges an outage with on-demand, wait instead iff spot is back next tick."""
    if (state.market is Market.NONE and base.market is Market.ON_DEMAND and not base.final
            and state.slack - state.tick_hours >= state.safety_slack - _EPS
            and future.outage_left[_tick(state, start)] <= 1):
        return Decision(Market.NONE, None, "oracle: spot is back next tick")
    return base


def take_spot_from_idle(state: DeadlineState, base: Decision, future: Future, start: int) -> Decision:
    """Idle with spot up: take it iff the run lasts 2 more ticks, otherwise on-demand."""
    if (state.market is Market.NONE and base.market is Market.SPOT
            and future.run_left[future.zone_index[base.zone or ""], _tick(state, start)] < 2):
        return Decision(Market.ON_DEMAND, None, "oracle: this run ends within 2 ticks")
    return base


def move_to_a_lasting_zone(state: DeadlineState, base: Decision, future: Future, start: int) -> Decision:
    """On spot whose run ends within the hour: move now to another zone whose run lasts at least an hour longer
    (one changeover at spot price now, instead of the preemption's later, maybe into an outage)."""
    if state.market is not Market.SPOT or base.market is not Market.SPOT or base.zone != state.zone:
        return base
    t, hour = _tick(state, start), int(round(1.0 / state.tick_hours))
    here = future.run_left[future.zone_index[state.zone or ""], t]
    others = [z for z in state.zones if z.available and z.zone != state.zone]
    if here > hour or not others or state.slack - state.changeover_hours < state.safety_slack - _EPS:
        return base
    there = max(others, key=lambda z: future.run_left[future.zone_index[z.zone], t])
    if future.run_left[future.zone_index[there.zone], t] >= here + hour:
        return Decision(Market.SPOT, there.zone, "oracle: this zone's run ends first")
    return base


def learned_leave(traces: TraceSet, threshold: float = 0.6) -> Lever:
    """Not an oracle: leave on-demand for a run 1-2 ticks old when a logistic regression of the signals below,
    refitted every 6 h on the returning runs whose outcome is already known, gives it >= `threshold` to last
    another hour. The natural next step if the signals predicted anything; the table shows what it is worth."""
    ticks, zone_of, x, y = returning_runs(traces)
    hour = int(round(1.0 / traces.tick_hours))
    known_at = ticks + hour + 1
    row = {(int(z), int(t)): i for i, (z, t) in enumerate(zip(zone_of, ticks, strict=True))}
    refit = int(round(6.0 / traces.tick_hours))
    models: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray] | None] = {}

    def chance(zone: int, came_back: int, now: int) -> float | None:
        if now // refit not in models:
            seen = known_at <= now
            both = 0 < int(y[seen].sum()) < int(seen.sum())
            models[now // refit] = fit_logistic(x[seen], y[seen].astype(float)) if seen.sum() >= 30 and both else None
        model, i = models[now // refit], row.get((zone, came_back))
        if model is None or i is None:
            return None
        w, mean, scale = model
        return float(1.0 / (1.0 + np.exp(-(w[0] + ((x[i] - mean) / scale) @ w[1:]))))

    def lever(state: DeadlineState, base: Decision, future: Future, start: int) -> Decision:
        up = [z for z in state.zones if z.available]
        if state.market is not Market.ON_DEMAND or not up or base.final or base.market is Market.SPOT:
            return base
        best = max(up, key=lambda z: z.expected_up_hours)
        age = int(round(best.age_hours / state.tick_hours))
        now = _tick(state, start)
        p = chance(future.zone_index[best.zone], now - age + 1, now) if age <= 2 else None
        if p is not None and p >= threshold and state.slack - state.changeover_hours >= state.safety_slack:
            return Decision(Market.SPOT, best.zone, f"learned: {p:.0%} that this run lasts another hour")
        return base
    return lever


LEVERS: dict[str, Callable[[TraceSet], Lever | None]] = {
    "none (Spotwise as it is)": lambda _: None,
    "leave on-demand, runs of any age": lambda _: leave_on_demand(0.0),
    "leave on-demand, runs >= 2d old": lambda _: leave_on_demand(2.0),
    "wait out a 1-tick outage": lambda _: wait_out_outage,
    "take spot from idle only if it lasts": lambda _: take_spot_from_idle,
    "move off spot that ends within the hour to a zone that lasts": lambda _: move_to_a_lasting_zone,
    "not an oracle: leave young runs a causal model trusts": learned_leave,
}


def run_lever(traces: TraceSet, lever: Lever | None, starts: list[int]) -> tuple[float, int, float]:
    """Mean cost / on-demand, deadline misses and changeovers a job, over `starts`."""
    views = traces.zone_stats()
    future = Future(traces)
    job = SimJob(C, D, CHANGEOVER)
    reference = DEFAULT_ON_DEMAND_PRICE * (C + CHANGEOVER)
    costs, misses, changeovers = [], 0, []
    for start in starts:
        policy: Policy = spotwise
        if lever is not None:
            def policy(state: DeadlineState, _s: int = start, _lever: Lever = lever) -> Decision:
                return _lever(state, spotwise(state), future, _s)
        result = replay(views, start, job, policy, traces.tick_hours, DEFAULT_ON_DEMAND_PRICE)
        costs.append(result.cost / reference)
        misses += result.missed
        changeovers.append(result.changeovers)
    return float(np.mean(costs)), misses, float(np.mean(changeovers))


# --- predictors ---------------------------------------------------------------------------------------------

SIGNALS = ("other zones up", "longest other run, h", "previous outage, h (shorter = better)",
           "previous run, h", "zone's availability, last 6 h", "time of day (sin)", "time of day (cos)")


def returning_runs(traces: TraceSet) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every run one tick old: (tick, zone index, causal signals, lasts another hour)."""
    up = traces.capacity > 0
    zones, n = up.shape
    g = traces.tick_hours
    age = np.zeros((zones, n), dtype=np.int64)
    down = np.zeros((zones, n), dtype=np.int64)
    for t in range(n):
        prev_age = age[:, t - 1] if t else np.zeros(zones, dtype=np.int64)
        prev_down = down[:, t - 1] if t else np.zeros(zones, dtype=np.int64)
        age[:, t] = np.where(up[:, t], prev_age + 1, 0)
        down[:, t] = np.where(up[:, t], 0, prev_down + 1)
    left = Future(traces).run_left
    window, hour = int(round(6.0 / g)), int(round(1.0 / g))
    ticks, zone_of, rows, labels = [], [], [], []
    for z in range(zones):
        others = [o for o in range(zones) if o != z]
        for t in range(window, n - hour - 1):
            if age[z, t] != 1:
                continue
            before = down[z, t - 1]
            previous_run = age[z, t - 1 - before] if t - 1 - before >= 0 else 0
            other_ages = [age[o, t] for o in others if up[o, t]]
            ticks.append(t)
            zone_of.append(z)
            rows.append([len(other_ages), max(other_ages, default=0) * g, -before * g, previous_run * g,
                         up[z, t - window:t].mean(), np.sin(2 * np.pi * t * g / 24), np.cos(2 * np.pi * t * g / 24)])
            labels.append(left[z, t] - 1 >= hour)
    return np.array(ticks), np.array(zone_of), np.array(rows, dtype=float), np.array(labels, dtype=bool)


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (ties count half): the chance a lasting run scores above a short one."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    for value in np.unique(score):
        tied = score == value
        ranks[tied] = ranks[tied].mean()
    pos = int(label.sum())
    neg = len(label) - pos
    if not pos or not neg:
        return float("nan")
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge logistic regression by Newton's method on standardised signals; returns (weights, mean, scale)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        grad = z.T @ (p - y) + l2 * w
        hess = (z.T * (p * (1 - p))) @ z + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w, mean, scale


def out_of_sample_auc(ticks: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit on the first half of the trace, score the second; and the reverse."""
    first = ticks < np.median(ticks)
    scores = []
    for train, test in ((first, ~first), (~first, first)):
        w, mean, scale = fit_logistic(x[train], y[train].astype(float))
        z = np.hstack([np.ones((int(test.sum()), 1)), (x[test] - mean) / scale])
        scores.append(roc_auc(z @ w, y[test]))
    return scores[0], scores[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=300, help="start ticks per trace set (default 300)")
    opts = parser.parse_args()
    if not TRACES.is_dir():
        print(f"traces not found at {TRACES}; this benchmark needs ../shared/data/spot-traces", file=sys.stderr)
        return 2
    began = time.perf_counter()
    sets = {name: load_trace_set(TRACES / name, pattern) for name, pattern in SETS.items()}
    print(f"C = {C:g} h, D = {D:g} h, d = {CHANGEOVER:g} h, multi-zone, {opts.starts} starts, cost / on-demand\n")
    print("| decision handed to an oracle | " + " | ".join(sets) + " |\n|---|" + "---|" * len(sets))
    for label, lever in LEVERS.items():
        cells = []
        for traces in sets.values():
            starts = draw_starts(traces.ticks, D, traces.tick_hours, opts.starts, 0)
            mean, misses, changeovers = run_lever(traces, lever(traces), starts)
            cells.append(f"{mean:.3f} ({changeovers:.1f} changeovers, {misses} misses)")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nWill a run that came back one tick ago last another hour? Area under the ROC curve (0.5 = a coin):\n")
    print("| signal | " + " | ".join(sets) + " |\n|---|" + "---|" * len(sets))
    data = {name: returning_runs(traces) for name, traces in sets.items()}
    for i, signal in enumerate(SIGNALS):
        print(f"| {signal} | " + " | ".join(f"{roc_auc(x[:, i], y):.2f}" for *_, x, y in data.values()) + " |")
    cells = []
    for ticks, _, x, y in data.values():
        a, b = out_of_sample_auc(ticks, x, y)
        cells.append(f"{a:.2f} / {b:.2f}")
    print("| all, logistic regression: 1st half -> 2nd / 2nd -> 1st | " + " | ".join(cells) + " |")
    print("| runs (share that lasts) | " + " | ".join(f"{len(y)} ({y.mean():.0%})" for *_, y in data.values())
          + " |")
    print(f"\n{time.perf_counter() - began:.0f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
