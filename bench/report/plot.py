"""The ladder as a log-log plot: time against rows, a line per kernel, the
roofline (max of the memory and compute roofs, per slice) dashed; one panel
for the product, one for the forward pass."""
from __future__ import annotations

from pathlib import Path

from bench.runs import Run

from .ladder import by_rows
from .roofline import place, roofs


def plot(run: Run, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(suite, title, by_rows(run, suite)) for suite, title in
              (("matmul", "x_train[:rows] @ weights (784 x 10)"),
               ("forward", "forward 784 -> 50 -> 10"))]
    panels = [p for p in panels if p[2]]
    machine_roofs = roofs(run)
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5.5), squeeze=False)
    for ax, (suite, title, table) in zip(axes[0], panels):
        kernels = list(dict.fromkeys(k for t in table.values() for k in t))
        for kernel in kernels:
            points = [(rows, t[kernel].median) for rows, t in table.items() if kernel in t]
            ax.plot(*zip(*points), "-o", markersize=3, label=kernel)
        roof = [(rows, placed.time) for rows, t in table.items()
                if (placed := place(next(iter(t.values())), machine_roofs)) is not None]
        if roof:
            ax.plot(*zip(*roof), "--", color="black", linewidth=2,
                    label="roofline: max(bytes / bandwidth, flops / peak)")
        ax.set(xscale="log", yscale="log", xlabel="rows of x_train",
               ylabel="median time per call (s)", title=title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
