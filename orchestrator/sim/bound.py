"""The d = 0 lower bound: what an oracle that knows the whole trace and pays no changeover would spend.

Each tick in [0, D) is priced at the cheapest option then available (the cheapest zone with spot capacity, else
on-demand); the job buys the C/g cheapest ticks (the last one fractionally). No causal policy can do better, with or
without changeovers, because every policy's run is one particular choice of C hours of ticks at those prices or
dearer ones. The property tests check exactly that.
"""

from __future__ import annotations

import numpy as np

from orchestrator.sim.traces import TraceSet


def tick_prices(traces: TraceSet, on_demand_price: float, spot_prices: np.ndarray | None = None) -> np.ndarray:
    """Cheapest price per tick: min over zones with capacity of their spot price, else on-demand."""
    prices = np.ones(len(traces.zones)) if spot_prices is None else np.asarray(spot_prices, dtype=float)
    per_zone = np.where(traces.capacity > 0, prices[:, None], np.inf)
    return np.minimum(per_zone.min(axis=0), on_demand_price)


def lower_bound(prices: np.ndarray, start: int, work_hours: float, deadline_hours: float,
                tick_hours: float) -> float:
    """Cost of the C/g cheapest ticks among the floor(D/g) ticks from `start` (in spot-price-hours)."""
    n = int(deadline_hours / tick_hours + 1e-9)
    window = np.sort(prices[start:start + n])
    need = work_hours / tick_hours
    whole = int(need + 1e-9)
    if whole > len(window):
        raise ValueError(f"the job needs {need:.1f} ticks but the deadline allows {len(window)}")
    cost = float(window[:whole].sum())
    frac = need - whole
    if frac > 1e-9 and whole < len(window):
        cost += frac * float(window[whole])
    return cost * tick_hours
