"""One benchmark group's trend: a line per kernel over runs, change points marked.

Kernels of one group differ by orders of magnitude, so each line is drawn
relative to its own first level (the median of its runs before its first
change): a step reads as the same jump whatever the kernel's speed.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .changes import Change
from .series import Machine, Series, commit_label

MAX_TICKS = 12


def first_level(series: Series, changes: list[Change]) -> float:
    """The median value of the runs before the series' first change."""
    end = min((c.index for c in changes), default=len(series.points))
    return float(np.exp(np.median(series.logs[:end])))


def plot_group(title: str, machine: Machine, series: list[Series],
               changes: dict[int, list[Change]], path: Path) -> Path:
    """One PNG of the group's series; changes are keyed by index into series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    for number, line in enumerate(series):
        found = changes.get(number, [])
        base = first_level(line, found)
        x = [p.position for p in line.points]
        y = np.array([p.value for p in line.points]) / base
        spread = np.array([[p.value - p.low for p in line.points],
                           [p.high - p.value for p in line.points]]) / base
        drawn = ax.errorbar(x, y, yerr=spread, fmt="-o", markersize=3, capsize=2, linewidth=1,
                            label=line.label)
        color = drawn.lines[0].get_color()
        for change in found:
            point = change.point
            ax.axvline(point.position - 0.5, color=color, linestyle=":", linewidth=1)
            ax.plot(point.position, point.value / base, "o", markersize=11, fillstyle="none",
                    color=color)
            ax.annotate(f"{(change.estimate.ratio - 1) * 100:+.1f} %",
                        (point.position, point.value / base), xytext=(6, 8),
                        textcoords="offset points", color=color, fontsize="small")
    positions = range(len(machine.runs))
    every = max(1, math.ceil(len(machine.runs) / MAX_TICKS))
    ax.set_xticks(list(positions)[::every])
    ax.set_xticklabels([f"{run.id.partition('_')[0]}\n{commit_label(run)[:7]}"
                        for run in machine.runs[::every]], fontsize="small")
    ax.set(xlabel="saved run (commit), in commit order",
           ylabel="median normalized time / its first level",
           title=title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
