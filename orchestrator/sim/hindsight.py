"""The hindsight plan: the cheapest way through one trace window for an oracle that pays every changeover.

Why another bound: the d = 0 lower bound (bound.py) ignores changeovers, so on a volatile trace it sits far
below anything a real job can reach (aws-10-26-2022 multi-zone: 0.372, while every causal policy pays ~10
changeovers of 0.2 h). This plan knows the whole window, as the lower bound does, but pays the changeover d of
every new instance in money and slack, so the gap between it and a policy is the price of not knowing the
future, and the gap between it and the lower bound is the price of changeovers.

Model: dynamic programming over the ticks of the window. Before each tick the state is (wait ticks so far,
changeovers so far, what runs: nothing, on-demand, or spot in zone z); a tick either waits (nothing runs, no
cost), keeps the instance that runs (one tick of progress at its price) or starts another one available in
that tick (its price for the tick plus its changeover d, one more changeover). A plan is feasible while
waits x g + changeovers x d <= D - C, and it ends when floor(C/g) ticks of progress are done (a fraction of a
tick left over is charged at the cheapest price). The changeover's time is booked as slack rather than laid
on the tick grid, meant as a relaxation of the engine, which pays it tick by tick: tests/sim/test_properties.py
checks on random traces (changeovers that are and are not whole ticks) that no policy's replay is ever cheaper
than this plan, and that the plan never beats the d = 0 bound.

Work grows with (D - C)^2 / (g^2 d) per start and the number of zones: about 0.1 s per start at D = 52 h on
10-minute ticks with 2 zones, but minutes at D = 80 h on 195-second ticks with 9, which is why the benchmark
(bench/policy_headroom.py) computes it for the issue-9 settings rather than for every configuration.
"""

from __future__ import annotations

import numpy as np

_INF = 1e18


def hindsight_cost(available: np.ndarray, start: int, work_hours: float, deadline_hours: float,
                   changeover_hours: float, tick_hours: float, on_demand_price: float,
                   spot_prices: np.ndarray | None = None) -> float:
    """Cheapest plan (spot-price-hours) for the window from tick `start`; `available[z, t]` is zone z's capacity."""
    g, d = tick_hours, changeover_hours
    zones = available.shape[0]
    prices = np.concatenate([[on_demand_price],
                             np.ones(zones) if spot_prices is None else np.asarray(spot_prices, dtype=float)])
    n = int(deadline_hours / g + 1e-9)
    need = int(work_hours / g + 1e-9)
    leftover = (work_hours / g - need) * g * float(prices.min()) if work_hours / g - need > 1e-9 else 0.0
    slack = deadline_hours - work_hours
    if need > n or slack < 0:
        raise ValueError(f"the job needs {work_hours / g:.1f} ticks of work but the deadline allows {n}")
    waits = int(slack / g + 1e-9) + 1
    switches = int(slack / d + 1e-9) + 1 if d > 0 else 1
    feasible = (np.arange(waits)[:, None] * g + np.arange(switches)[None, :] * d) <= slack + 1e-9
    window = available[:, start:start + n] > 0
    # value[w, c, i]: cheapest cost so far; i = 0 nothing runs, 1 on-demand, 2 + z spot in zone z
    value = np.full((waits, switches, zones + 2), _INF)
    value[0, 0, 0] = 0.0
    best = _INF
    for t in range(n + 1):
        w_done = t - need  # states that have done `need` ticks of work now have waited t - need ticks
        if 0 <= w_done < waits:
            best = min(best, float(value[w_done].min()))
            value[w_done] = _INF
        if t == n:
            break
        nxt = np.full_like(value, _INF)
        nxt[1:, :, 0] = value[:-1].min(axis=2)
        for j in range(zones + 1):
            if j > 0 and not window[j - 1, t]:
                continue
            i, price = j + 1, prices[j]
            nxt[:, :, i] = np.minimum(nxt[:, :, i], value[:, :, i] + price * g)
            others = np.delete(value, i, axis=2).min(axis=2)
            if d > 0:
                nxt[:, 1:, i] = np.minimum(nxt[:, 1:, i], others[:, :-1] + price * (g + d))
            else:
                nxt[:, :, i] = np.minimum(nxt[:, :, i], others + price * g)
        nxt[~feasible] = _INF
        value = nxt
    return best + leftover
