"""The hindsight plan: the cheapest way through one trace window for an oracle that pays every changeover.

Why another bound: the d = 0 lower bound (bound.py) ignores changeovers, so on a volatile trace it sits far
below anything a real job can reach (aws-10-26-2022 multi-zone: 0.372, while every causal policy pays ~10
changeovers of 0.2 h). This plan knows the whole window, as the lower bound does, but pays the changeover d of
every new instance in money and time, so the gap between it and a policy is the price of not knowing the
future, and the gap between it and the lower bound is the price of changeovers.

Model: the engine's own (engine.py), solved by dynamic programming over the ticks of the window instead of
replayed. Before each tick the state is (wait ticks so far a, changeovers so far b, what runs: nothing,
on-demand or spot in zone z, and how many ticks the instance has run, up to the m = ceil(d/g) its changeover
takes). Slack used is S = a*g + b*d, so progress at tick t is t*g - S once the instance's changeover is over,
and the job finishes at F = C + S, which must not pass D. A tick waits (nothing runs, no cost), keeps the
instance (its price for the tick, while its zone has capacity) or starts another one available then (its
price, one more changeover). The tick in which F falls is charged only up to F.

The first version booked the changeover as slack but laid progress on whole ticks from the window's start, so
a plan ended at C + waits and never used the capacity in the d x changeovers after that, which a replay does:
a random trace ending in a long spot run let a replay beat it (tests/sim/test_properties.py found one).
Dropping an instance in the middle of its changeover is not a move: waiting those ticks instead costs less and
uses the same time. So the plan is the cheapest replay of the window any sequence of decisions can give, which
tests/sim/test_hindsight.py checks by trying every sequence through the engine on small windows.

Work grows with (D - C)^2 / (g d) x (zones + 1) x m per tick: about 0.1-0.3 s per start at D = 52 h with
2 zones on 10-minute ticks, more with 9 zones on 195-second ticks, which is why the benchmark
(bench/policy_headroom.py) computes it for the reference settings rather than for every configuration.
"""

from __future__ import annotations

import math

import numpy as np

_INF = 1e18
_EPS = 1e-9


def hindsight_cost(available: np.ndarray, start: int, work_hours: float, deadline_hours: float,
                   changeover_hours: float, tick_hours: float, on_demand_price: float,
                   spot_prices: np.ndarray | None = None) -> float:
    """Cheapest plan (spot-price-hours) for the window from tick `start`; `available[z, t]` is zone z's capacity.

    `math.inf` when no sequence of decisions meets the deadline (then every replay misses it too)."""
    g, d, work = tick_hours, changeover_hours, work_hours
    zones = available.shape[0]
    prices = np.concatenate([[on_demand_price],
                             np.ones(zones) if spot_prices is None else np.asarray(spot_prices, dtype=float)])
    slack = deadline_hours - work
    if slack < -_EPS:
        raise ValueError(f"the job needs {work:g} h of work but the deadline allows {deadline_hours:g} h")
    n = min(int(deadline_hours / g + _EPS) + 1, available.shape[1] - start)  # ticks that may hold work
    waits = int(max(slack, 0.0) / g + _EPS) + 1
    switches = int(max(slack, 0.0) / d + _EPS) + 1 if d > 0 else 1
    m = max(1, math.ceil(d / g - _EPS))  # ticks until the changeover is over (the instance is productive)
    used = np.arange(waits)[:, None] * g + np.arange(switches)[None, :] * d  # S = a*g + b*d
    feasible = used <= slack + _EPS
    finish = work + used  # F, where progress reaches C
    window = available[:, start:start + n] > 0
    idle = np.full((waits, switches), _INF)
    idle[0, 0] = 0.0
    # run[a, b, i, j]: instance i (0 = on-demand, 1 + z = spot in zone z) has run j + 1 ticks (capped at m)
    run = np.full((waits, switches, zones + 1, m), _INF)
    best = _INF
    for t in range(n):
        up = np.concatenate([[True], window[:, t]])
        nxt_idle = np.full_like(idle, _INF)
        nxt_idle[1:] = np.minimum(idle[:-1], run[:-1].min(axis=(2, 3)))  # wait: drop whatever runs
        nxt_run = np.full_like(run, _INF)
        for i in np.flatnonzero(up):
            cost = prices[i] * g
            # keep instance i: one more tick of it
            kept = run[:, :, i, :]
            nxt_run[:, :, i, 1:] = kept[:, :, :-1] + cost
            nxt_run[:, :, i, m - 1] = np.minimum(nxt_run[:, :, i, m - 1], kept[:, :, m - 1] + cost)
            # start instance i from nothing or from another instance: one more changeover
            others = idle
            if zones:
                others = np.minimum(idle, np.delete(run, i, axis=2).min(axis=(2, 3)))
            if d > 0:
                nxt_run[:, 1:, i, 0] = np.minimum(nxt_run[:, 1:, i, 0], others[:, :-1] + cost)
            else:
                nxt_run[:, :, i, 0] = np.minimum(nxt_run[:, :, i, 0], others + cost)
        nxt_run[~feasible] = _INF
        nxt_idle[~feasible] = _INF
        productive = nxt_run[:, :, :, m - 1]
        end = (t + 1) * g
        done = feasible & (finish <= end + _EPS)  # the job finished during tick t, at F
        if done.any():
            refund = (end - finish)[:, :, None] * prices[None, None, :]
            charged = np.where(done[:, :, None], productive - refund, _INF)
            best = min(best, float(charged.min()))
            nxt_run[done] = _INF  # a finished job runs no further
        idle, run = nxt_idle, nxt_run
    return best if best < _INF / 2 else math.inf  # inf: nothing meets the deadline (a changeover > the slack)
