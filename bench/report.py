"""The speedup ladder from a saved pytest-benchmark run: markdown tables and a log-log plot.

    python -m bench.report [RUN.json] [--out reports]

Without RUN.json it reads the newest run under .benchmarks/. Every number comes
from the run: medians of the kept samples, GFLOP/s from the recorded flops.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from bench import cases
from bench.units import format_time

SLOWEST = "three_loops"
FASTEST = cases.REFERENCE_KERNEL
STORAGE = Path(".benchmarks")


def newest_run(storage: Path = STORAGE) -> Path:
    runs = sorted(storage.glob("*/*.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise FileNotFoundError(
            f"no saved run under {storage}/: run the benchmarks with --benchmark-autosave first")
    return runs[-1]


def load_run(path: Path) -> dict:
    try:
        run = json.loads(Path(path).read_text())
        run["benchmarks"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a pytest-benchmark JSON run ({error})") from error
    return run


LADDER_TESTS = ("test_matmul[", "test_read_x[")


def matmul_medians(run: dict) -> dict[int, dict[str, float]]:
    """rows -> kernel (or read_x) -> median seconds."""
    table: dict[int, dict[str, float]] = defaultdict(dict)
    for bench in run["benchmarks"]:
        info = bench.get("extra_info", {})
        if bench["name"].startswith(LADDER_TESTS) and "rows" in info:
            table[info["rows"]][info["kernel"]] = bench["stats"]["median"]
    return dict(sorted(table.items()))


def _rates(run: dict) -> dict[tuple[int, str], dict]:
    """(rows, kernel) -> extra_info, where the run recorded GFLOP/s and GB/s."""
    return {(b["extra_info"]["rows"], b["extra_info"]["kernel"]): b["extra_info"]
            for b in run["benchmarks"] if b["name"].startswith(LADDER_TESTS)}


def _rate(info: dict | None, key: str) -> str:
    value = (info or {}).get(key)
    return "n/a" if value is None else f"{value:.3g}"


def per_row_time(medians: dict[int, dict[str, float]], kernel: str) -> float | None:
    """Seconds per row of `kernel`, from its largest measured slice (for extrapolation)."""
    measured = [(rows, t[kernel]) for rows, t in medians.items() if kernel in t]
    if not measured:
        return None
    rows, seconds = max(measured)
    return seconds / rows


def _ratio(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:,.0f}"


def ladder_markdown(run: dict) -> str:
    medians = matmul_medians(run)
    rates = _rates(run)
    slow_per_row = per_row_time(medians, SLOWEST)
    lines = []
    for rows, times in medians.items():
        lines += [f"### x_train[:{rows}] @ weights (784 x 10)", "",
                  f"| kernel | median | GFLOP/s | GB/s | x faster than {SLOWEST} "
                  f"| x slower than {FASTEST} |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        slowest = times.get(SLOWEST)
        marker = ""
        if slowest is None and slow_per_row is not None:
            slowest, marker = slow_per_row * rows, "*"
        for kernel, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
            if kernel == cases.READ_REFERENCE:
                continue
            faster = f"{slowest / seconds:,.0f}{marker}" if slowest else "n/a"
            slower = _ratio(seconds / times[FASTEST]) if FASTEST in times else "n/a"
            info = rates.get((rows, kernel))
            lines.append(f"| {kernel} | {format_time(seconds)} | {_rate(info, 'gflops_per_s')} | "
                         f"{_rate(info, 'gbytes_per_s')} | {faster} | {slower} |")
        if cases.READ_REFERENCE in times:
            info = rates.get((rows, cases.READ_REFERENCE))
            lines.append(f"| *one read of x (roofline)* | {format_time(times[cases.READ_REFERENCE])}"
                         f" | | {_rate(info, 'gbytes_per_s')} | | |")
        lines.append("")
    if any(SLOWEST not in t for t in medians.values()) and slow_per_row:
        lines.append(f"\\* {SLOWEST} was not run on this slice (beyond its cost budget): its time "
                     "is extrapolated per row from its largest measured slice.")
    return "\n".join(lines).rstrip() + "\n"


def plot_ladder(run: dict, path: Path) -> Path:
    """Median time against rows, log-log, a line per kernel, the roofline dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    medians = matmul_medians(run)
    kernels = list(dict.fromkeys(k for times in medians.values() for k in times))
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for kernel in kernels:
        points = [(rows, t[kernel]) for rows, t in medians.items() if kernel in t]
        xs, ys = zip(*points)
        roof = kernel == cases.READ_REFERENCE
        ax.plot(xs, ys, "--" if roof else "-o", color="black" if roof else None,
                label="one read of x (roofline)" if roof else kernel)
    ax.set(xscale="log", yscale="log", xlabel="rows of x_train (784 x 10 weights)",
           ylabel="median time per product (s)", title="matmul ladder on MNIST")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(run_path: Path, out: Path) -> tuple[Path, Path]:
    run = load_run(run_path)
    out.mkdir(parents=True, exist_ok=True)
    header = (f"# matmul ladder\n\nFrom `{run_path}` ({run.get('datetime', '?')}, "
              f"{run.get('machine_info', {}).get('cpu', {}).get('brand_raw', 'unknown CPU')}).\n\n")
    markdown = out / "ladder.md"
    markdown.write_text(header + ladder_markdown(run))
    return markdown, plot_ladder(run, out / "ladder.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?", type=Path, help="saved run (default: newest in .benchmarks/)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    args = parser.parse_args(argv)
    try:
        markdown, png = write_report(args.run or newest_run(), args.out)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {markdown} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
