"""One benchmark group's trend: a line per kernel over runs, change points marked.

Kernels of one group differ by orders of magnitude, so each line is drawn
relative to its own first level (the median of its runs before its first
change): a step reads as the same jump whatever the kernel's speed. A PNG
shows the newest PLOTTED_RUNS runs, readable at its width and drawn in the
same time however long the history; history.html shows every run.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .changes import Change
from .series import MEMORY, Machine, Series, commit_label

MAX_TICKS = 12
MAX_MARKED = 100  # runs up to which each point gets a marker
PLOTTED_RUNS = 250  # a PNG shows the newest runs (history.html shows every run)


def first_level(series: Series, changes: list[Change]) -> float:
    """The median value of the runs before the series' first change."""
    end = min((c.index for c in changes), default=len(series.values))
    return float(np.exp(np.median(series.logs[:end])))


def plot_group(title: str, machine: Machine, series: list[Series],
               changes: dict[int, list[Change]], path: Path) -> Path:
    """One PNG of the group's series; changes are keyed by index into series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = max(0, len(machine.runs) - PLOTTED_RUNS)
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for number, line in enumerate(series):
        found = changes.get(number, [])
        base = first_level(line, found)
        shown = line.positions >= start
        x = line.positions[shown]
        # A band, not error bars: one polygon whatever the number of runs.
        [drawn] = ax.plot(x, line.values[shown] / base, "-o" if len(x) <= MAX_MARKED else "-",
                          markersize=3, linewidth=1, label=line.label)
        color = drawn.get_color()
        ax.fill_between(x, line.lows[shown] / base, line.highs[shown] / base, color=color,
                        alpha=0.2, linewidth=0)
        for change in found:
            point = change.point
            if point.position < start:
                continue
            ax.axvline(point.position - 0.5, color=color, linestyle=":", linewidth=1)
            ax.plot(point.position, point.value / base, "o", markersize=11, fillstyle="none",
                    color=color)
            ax.annotate(f"{(change.estimate.ratio - 1) * 100:+.1f} %",
                        (point.position, point.value / base), xytext=(6, 8),
                        textcoords="offset points", color=color, fontsize="small")
    every = max(1, math.ceil((len(machine.runs) - start) / MAX_TICKS))
    ticks = range(start, len(machine.runs), every)
    ax.set_xticks(list(ticks))
    ax.set_xticklabels([f"{machine.runs[i].id.partition('_')[0]}\n"
                        f"{commit_label(machine.runs[i])[:7]}" for i in ticks], fontsize="small")
    ax.set(xlabel="saved run (commit), in commit order",
           ylabel=("peak memory" if series and series[0].metric == MEMORY
                   else "median normalized time") + " / its first level",
           title=title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    # Light compression: encoding dominated the time of a plot of thousands of runs.
    fig.savefig(path, dpi=110, pil_kwargs={"compress_level": 1})
    plt.close(fig)
    return path
