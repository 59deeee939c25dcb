"""Spotwise's deadline policy as a dynamic program: price every hour of slack by the outages still to come.

Slack (time left minus work left) is what waiting and changeovers consume; once it falls below the safety net the
job is held on on-demand to the end, however cheap spot is then. Whether to wait out an outage, bridge it with
on-demand, or leave on-demand for returning spot therefore depends on how much outage time the remaining work will
still meet, which no fixed reserve captures. This module solves that trade-off exactly for a model of the future:

- The union of the allowed zones ("spot somewhere") alternates between available and unavailable runs whose
  hazards depend on the run's age (`RunModel`, estimated causally from the availability seen so far: short runs
  die young, long runs keep lasting). When our zone's run ends, another zone may still have capacity
  (`switch_share`): a changeover without an outage.
- State: time left T and slack s (both in model units; work left is T - s), market (idle, on-demand, spot) and
  the union's run (up or down, age bucket). Each unit of time, running moves T down and keeps s; waiting moves
  both down; a new instance first burns the changeover c from s. Costs are in spot-price units (on-demand costs
  K). Below the safety slack the net's rule applies: on-demand to the end.

Backward induction over T with s vectorised gives the expected cost of every action; the table of best actions
for a model is solved once and cached (a model changes only when its history is refreshed), so a decision is a
table look-up. The result is deterministic and pure: the same state gives the same decision in the daemon and
in the simulator.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from policies.outlook import AGE_EDGES, RunModel, age_bucket

WAIT, ON_DEMAND, SPOT = 0, 1, 2
_INF = 1e18


def _transitions(model: RunModel) -> tuple[np.ndarray, np.ndarray]:
    """(kept, lost): chances over one unit of each next state given the current one; `kept + lost` rows sum to 1.

    States: the zone a spot instance would run in is up alone (`AGE_EDGES` buckets), up with another zone up
    too (backed), or every zone is down. `lost` holds the moves in which that zone's run ends: a backed one
    hands over to the other zone (a changeover), a lone one becomes an outage; an outage ends in a fresh run.
    """
    b = len(AGE_EDGES)
    kept = np.zeros((3 * b, 3 * b))
    lost = np.zeros((3 * b, 3 * b))
    switch_age = np.array(model.switch_age) if model.switch_age else np.eye(b)[0]
    for i, h in enumerate(model.up_hazard):
        lost[i, 2 * b] += h
        lost[b + i, b:2 * b] += h * model.switch_backed * switch_age
        lost[b + i, :b] += h * (1.0 - model.switch_backed) * switch_age
        _advance(kept, i, i, (1.0 - h) * (1.0 - model.backup_gain), 0)
        _advance(kept, i, i, (1.0 - h) * model.backup_gain, b)
        _advance(kept, b + i, i, (1.0 - h) * (1.0 - model.backup_loss), b)
        _advance(kept, b + i, i, (1.0 - h) * model.backup_loss, 0)
    for i, h in enumerate(model.down_hazard):
        kept[2 * b + i, 0] += h
        _advance(kept, 2 * b + i, i, 1.0 - h, 2 * b)
    return kept, lost


def _advance(p: np.ndarray, row: int, i: int, chance: float, block: int) -> None:
    """A run that goes on moves to the next age bucket (within `block`) at the rate the bucket's width implies."""
    if i + 1 < len(AGE_EDGES):
        step = 1.0 / (AGE_EDGES[i + 1] - AGE_EDGES[i])
        p[row, block + i + 1] += chance * step
        p[row, block + i] += chance * (1.0 - step)
    else:
        p[row, block + i] += chance


def state_index(up: bool, backed: bool, age_hours: float, unit_hours: float) -> int:
    """Column of the tables for the zones' situation now (see `_transitions`)."""
    b = len(AGE_EDGES)
    return age_bucket(age_hours / unit_hours) + (2 * b if not up else b if backed else 0)


def _shift(values: np.ndarray, c: float) -> np.ndarray:
    """values[s - c] on the integer s grid, linearly interpolated; _INF where s - c < 0."""
    whole = math.floor(c)
    frac = c - whole
    out = np.full_like(values, _INF)
    n = values.shape[0]
    if whole < n:
        out[whole:] = values[: n - whole]
    if frac > 1e-12:
        upper = np.full_like(values, _INF)
        if whole + 1 < n:
            upper[whole + 1:] = values[: n - whole - 1]
        out = np.where((out < _INF) & (upper < _INF), (1.0 - frac) * out + frac * upper, _INF)
    return out


@lru_cache(maxsize=64)  # ~8 MB a table at most (D = 80 h on 54 s ticks): bounded memory
def solve(model: RunModel, on_demand: float, changeover: float, safety: float, t_max: int,
          s_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Best action tables (idle, on-demand), each `[T, s, avail]` with T in 0..t_max, s in 0..s_max (units).

    `on_demand`: K, the on-demand price in spot prices; `changeover`, `safety`: in units. avail indexes
    `3 * len(AGE_EDGES)` states (`state_index`).
    """
    b = len(AGE_EDGES)
    kept, lost = _transitions(model)
    p_t, kept_t, lost_t = (kept + lost).T, kept.T, lost.T
    up = np.zeros(3 * b, dtype=bool)
    up[:2 * b] = True
    s = np.arange(s_max + 1, dtype=float)[:, None]
    shape = (s_max + 1, 3 * b)
    j_idle = np.zeros(shape)
    j_od = np.zeros(shape)
    j_spot = np.zeros(shape)
    best_idle = np.zeros((t_max + 1, *shape), dtype=np.int8)
    best_od = np.zeros((t_max + 1, *shape), dtype=np.int8)
    guarded = s < safety - 1e-9
    for t in range(1, t_max + 1):
        w = t - s  # work left (incl. owed changeover) at each slack
        done = w <= 1e-9
        last = w <= 1.0 + 1e-9
        nxt_spot = j_spot @ kept_t + j_idle @ lost_t
        run_spot = np.where(last, w, 1.0 + nxt_spot)
        run_od = np.where(last, on_demand * w, on_demand + j_od @ p_t)
        wait = np.full(shape, _INF)
        wait[1:] = (j_idle @ p_t)[:-1]
        start_spot = np.where(up, _shift(run_spot, changeover), _INF)
        start_od = _shift(run_od, changeover)
        idle_q = np.stack([wait, start_od, start_spot])
        od_q = np.stack([wait, run_od, start_spot])
        pick_idle = idle_q.argmin(axis=0)
        pick_od = od_q.argmin(axis=0)
        new_idle = np.take_along_axis(idle_q, pick_idle[None], 0)[0]
        new_od = np.take_along_axis(od_q, pick_od[None], 0)[0]
        forced = guarded & ~done
        new_idle = np.where(forced, on_demand * (w + changeover), new_idle)
        new_od = np.where(forced, on_demand * w, new_od)
        pick_idle = np.where(forced, ON_DEMAND, pick_idle)
        pick_od = np.where(forced, ON_DEMAND, pick_od)
        j_spot = np.where(done, 0.0, np.where(up, run_spot, new_idle))
        j_idle = np.where(done, 0.0, new_idle)
        j_od = np.where(done, 0.0, new_od)
        best_idle[t] = pick_idle
        best_od[t] = pick_od
    return best_idle, best_od


def best_action(model: RunModel, on_demand: float, changeover_hours: float, safety_hours: float,
                deadline_hours: float, work_hours: float, left_hours: float, slack_hours: float,
                on_demand_now: bool, up: bool, backed: bool, age_hours: float) -> int:
    """WAIT, ON_DEMAND or SPOT for one state (hours in, units inside); tables are solved once per job shape."""
    u = model.unit_hours
    t_max = math.ceil(deadline_hours / u) + 1
    s_max = math.ceil(max(0.0, deadline_hours - work_hours) / u) + 1
    table = solve(model, round(on_demand, 2), round(changeover_hours / u, 4), round(safety_hours / u, 4), t_max,
                  s_max)[1 if on_demand_now else 0]
    t = min(t_max, max(0, round(left_hours / u)))
    si = min(s_max, max(0, math.floor(slack_hours / u + 1e-6)))
    return int(table[t, si, state_index(up, backed, age_hours, u)])
