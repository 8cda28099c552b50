"""The ladder as a log-log plot: time against rows, a line per kernel, the
roofline (max of the memory and compute roofs, per slice) dashed; one panel
for the product, one for the forward pass."""
from __future__ import annotations

from pathlib import Path

from bench.runs import Benchmark, Run

from .ladder import by_rows, shape_title
from .roofline import place, roofs


def _first(table: dict[int, dict[str, Benchmark]]) -> Benchmark:
    return next(iter(next(iter(table.values())).values()))


def plot(run: Run, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A panel per suite, titled by the shapes the run recorded.
    panels = [(suite, shape_title(suite, "rows", _first(table)), table)
              for suite in ("matmul", "forward") if (table := by_rows(run, suite))]
    machine_roofs = roofs(run)
    # One colour per kernel in every panel, one legend for the figure.
    kernels = list(dict.fromkeys(k for _, _, table in panels for t in table.values() for k in t))
    colours = dict(zip(kernels, plt.get_cmap("tab10").colors * 2))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels) + 2.5, 5.5),
                             squeeze=False)
    for ax, (_suite, title, table) in zip(axes[0], panels):
        for kernel in kernels:
            points = [(rows, t[kernel].median) for rows, t in table.items() if kernel in t]
            if points:
                ax.plot(*zip(*points), "-o", markersize=3, color=colours[kernel], label=kernel)
        roof = [(rows, placed.time) for rows, t in table.items()
                if (placed := place(next(iter(t.values())), machine_roofs)) is not None]
        if roof:
            ax.plot(*zip(*roof), "--", color="black", linewidth=2,
                    label="roofline: max(bytes / bandwidth, flops / peak)")
        ax.set(xscale="log", yscale="log", xlabel="rows of x_train",
               ylabel="median time per call (s)", title=title)
        ax.grid(True, which="both", alpha=0.3)
    handles = {label: handle for ax in axes[0] for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="center right", fontsize="small")
    fig.tight_layout(rect=(0, 0, 1 - 3.4 / fig.get_figwidth(), 1))  # room for the legend
    fig.savefig(path, dpi=110, format="png")  # path may be a temporary name
    plt.close(fig)
    return path
