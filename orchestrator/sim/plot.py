"""Mean cost vs deadline per policy: the figure `spotwise simulate --plot` and `bench/policy_cost.py --plot` write.

matplotlib is an optional dependency (the `plot` extra): it is imported lazily, with the Agg backend so that a
headless daemon host or CI runner can draw without a display. One panel per (trace set, mode, changeover), one
line per policy, the d = 0 lower bound dashed: the gap to it is what a better policy could still save.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from orchestrator.sim.runner import LOWER_BOUND, ResultRow

_STYLE = {"on-demand": ("tab:gray", "o"), "greedy": ("tab:orange", "s"), "uniform-progress": ("tab:blue", "^"),
          "spotwise": ("tab:green", "D"), "spotwise-dp": ("tab:olive", "v"), LOWER_BOUND: ("black", "")}


def plot_cost_vs_deadline(rows: Iterable[ResultRow], path: str | Path, title: str | None = None) -> Path:
    """Write a PNG of mean cost / on-demand cost against the deadline; returns the path written."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'spotwise[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(rows)
    panels = sorted({(r.traces, r.mode, r.zones, r.changeover_hours) for r in rows})
    if not panels:
        raise ValueError("no results to plot")
    cols = min(2, len(panels))
    nrows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(6.0 * cols, 4.0 * nrows), squeeze=False)
    for ax, (traces, mode, zones, d) in zip(axes.flat, panels, strict=False):
        for policy in dict.fromkeys(r.policy for r in rows):
            points = sorted((r.deadline_hours, r.mean) for r in rows
                            if (r.traces, r.mode, r.changeover_hours, r.policy) == (traces, mode, d, policy))
            if not points:
                continue
            color, marker = _STYLE.get(policy, (None, "x"))
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, label=policy, color=color, marker=marker or None,
                    linestyle="--" if policy == LOWER_BOUND else "-")
        where = f"multi-zone ({zones} zones)" if mode == "multi" else f"single zone (mean of {zones})"
        ax.set_title(f"{traces}, {where}, d = {d:g} h", fontsize=10)
        ax.set_xlabel("deadline D (hours)")
        ax.set_ylabel("mean cost / on-demand cost")
        ax.set_ylim(bottom=0.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
