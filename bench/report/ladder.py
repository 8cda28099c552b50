"""The speedup ladder of a saved run as markdown: per slice, every kernel against
the slowest and the reference kernel and against this machine's roofline;
then the forward pass per kernel. Each table is a list of columns
(bench.table); the roofline row is a row of the same columns."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from bench import table
from bench.runs import Benchmark, Run
from bench.suite import cases
from bench.table import Column
from bench.units import format_bytes, format_time

from .roofline import (
    BEYOND_NOTE,
    Placement,
    Roofs,
    beyond_roof,
    flop_header,
    flop_rate,
    place,
    roofline_summary,
    roofs,
    share_cell,
)

SLOWEST = "three_loops"
REFERENCE_KERNEL = cases.REFERENCE_KERNEL
ROOFLINE_LABEL = "*roofline: max(bytes / bandwidth, flops / peak)*"
# One call's peak allocation (bench.runs.Memory; n/a: not measured, e.g. no memray).
MEMORY_HEADER = "peak memory"


def by_rows(run: Run, suite: str) -> dict[int, dict[str, Benchmark]]:
    """rows -> kernel -> benchmark, for one suite of the run."""
    rows: dict[int, dict[str, Benchmark]] = defaultdict(dict)
    for bench in run.benchmarks.values():
        if bench.workload is not None and bench.workload.suite == suite:
            rows[bench.workload.rows][bench.workload.kernel] = bench
    return dict(sorted(rows.items()))


def per_row_time(slices: dict[int, dict[str, Benchmark]], kernel: str) -> float | None:
    """Seconds per row of `kernel`, from its largest measured slice (for extrapolation)."""
    measured = [(rows, t[kernel].median) for rows, t in slices.items() if kernel in t]
    if not measured:
        return None
    rows, seconds = max(measured)
    return seconds / rows


def shape_title(suite: str, rows: int | str, bench: Benchmark) -> str:
    """A table's title from the shapes the run recorded (none in older runs)."""
    shape = bench.workload.shape
    if suite == "forward":
        layers = f" {' -> '.join(map(str, shape))}" if shape else ""
        return f"forward{layers} on x_train[:{rows}]"
    sizes = f" ({' x '.join(map(str, shape))})" if shape else ""
    return f"x_train[:{rows}] @ weights{sizes}"


def _ratio(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:,.0f}"


@dataclass(frozen=True)
class Line:
    """One row of a ladder table: a kernel's benchmark, or (bench None) the roofline."""

    label: str
    time: float                   # the median, or the roofline's time
    bench: Benchmark | None
    placed: Placement | None
    slowest: float | None = None  # the slowest kernel's time on this slice
    extrapolated: bool = False    # slowest comes from a smaller slice
    reference: Benchmark | None = None  # the reference kernel on this slice

    @property
    def roofline(self) -> bool:
        return self.bench is None


def _kernel_cell(line: Line, cell) -> str:
    """cell(line) for a kernel's row; the roofline row leaves the column empty."""
    return "" if line.roofline else cell(line)


def _share(line: Line) -> str:
    if line.roofline:
        return "100 %"
    return "n/a" if line.placed is None else share_cell(line.placed)


def _faster_than_slowest(line: Line) -> str:
    if not line.slowest:
        return "n/a"
    return f"{line.slowest / line.time:,.0f}{'*' if line.extrapolated else ''}"


def _slower_than_reference(line: Line) -> str:
    return "n/a" if line.reference is None else _ratio(line.time / line.reference.median)


def _memory(line: Line) -> str:
    """The call's peak allocation, and that as a multiple of its output's size:
    on a GPU the device's, where the product lives."""
    memory = line.bench.memory
    peak, where = ((memory.device_peak_bytes, " on the device")
                   if memory is not None and memory.device_peak_bytes is not None
                   else (memory and memory.peak_bytes, ""))
    if peak is None:
        return "n/a"
    output = memory.output_bytes
    return (format_bytes(peak) + where
            + (f" ({peak / output:.3g}x output)" if peak and output else ""))


def columns(gpu: bool, ladder: bool = True) -> list[Column[Line]]:
    """The ladder's columns, in order; the forward tables leave out LADDER_ONLY."""
    every = [
        Column("kernel", "left", lambda r: r.label),
        Column("median", "right", lambda r: format_time(r.time)),
        Column(flop_header(gpu), "right", lambda r: _kernel_cell(
            r, lambda r: flop_rate(r.bench.workload.flops / r.time, gpu))),
        Column("GB/s", "right", lambda r: _kernel_cell(
            r, lambda r: f"{r.bench.workload.bytes / r.time / 1e9:.3g}")),
        Column("% of roofline", "right", _share),
        Column("bound by", "left", lambda r: "n/a" if r.placed is None else r.placed.bound_by),
        Column(f"x faster than {SLOWEST}", "right", lambda r: _kernel_cell(r, _faster_than_slowest)),
        Column(f"x slower than {REFERENCE_KERNEL}", "right",
               lambda r: _kernel_cell(r, _slower_than_reference)),
        Column(MEMORY_HEADER, "right", lambda r: _kernel_cell(r, _memory)),
    ]
    return every if ladder else [c for c in every if c.header not in LADDER_ONLY]


# A forward pass's bytes are one read of x, and the slowest kernel has no
# forward pass: these columns say nothing there.
LADDER_ONLY = ("GB/s", f"x faster than {SLOWEST}")


def _lines(kernels: dict[str, Benchmark], machine_roofs: Roofs, ladder: bool,
           slowest: float | None, extrapolated: bool) -> list[Line]:
    """The kernels slowest first; in the ladder, then the roofline row where the
    run measured a roof."""
    lines = [Line(name, b.median, b, place(b, machine_roofs), slowest, extrapolated,
                  kernels.get(REFERENCE_KERNEL))
             for name, b in sorted(kernels.items(), key=lambda kv: -kv[1].median)]
    roof = place(next(iter(kernels.values())), machine_roofs)
    if ladder and roof is not None:
        lines.append(Line(ROOFLINE_LABEL, roof.time, None, roof))
    return lines


def _tables(run: Run, suite: str, gpu: bool, ladder: bool) -> tuple[list[str], bool]:
    """The markdown of one suite's tables, and whether a slowest time was extrapolated.
    The ladder (the product) also compares with the slowest kernel and shows the roofline."""
    slices, machine_roofs = by_rows(run, suite), roofs(run)
    chosen = columns(gpu, ladder)
    slow_per_row = per_row_time(slices, SLOWEST) if ladder else None
    lines, extrapolated_any = [], False
    for rows, kernels in slices.items():
        slowest = kernels[SLOWEST].median if SLOWEST in kernels else None
        extrapolated = slowest is None and slow_per_row is not None
        if extrapolated:
            slowest = slow_per_row * rows
        extrapolated_any |= extrapolated
        title = shape_title(suite, rows, next(iter(kernels.values())))
        lines += [f"#### {title}", "",
                  *table.markdown(chosen, _lines(kernels, machine_roofs, ladder, slowest,
                                                 extrapolated)),
                  ""]
    return lines, extrapolated_any


def matmul_tables(run: Run, gpu: bool = False) -> str:
    lines, extrapolated = _tables(run, "matmul", gpu, ladder=True)
    if extrapolated:
        lines.append(f"\\* {SLOWEST} was not run on this slice (beyond its cost budget): its "
                     "time is extrapolated per row from its largest measured slice.")
    return "\n".join(lines).rstrip() + "\n"


def forward_tables(run: Run, gpu: bool = False) -> str:
    lines, _ = _tables(run, "forward", gpu, ladder=False)
    return "\n".join(lines).rstrip() + "\n" if lines else ""


# matmul.openmp: torch imported before matmul leaves two OpenMP pools on the same cores.
TWO_RUNTIMES_NOTE = ("**Warning:** torch and numba ran on two OpenMP runtimes in this run (torch "
                     "was imported before matmul), so their worker threads competed for the "
                     "cores: the numba kernels' times and their ratios to the builtin are not "
                     "the suite's usual ones.")


def markdown(run: Run) -> str:
    """The whole report: header, roofline summary, matmul ladder, forward tables."""
    gpu = run.machine["gpu"] != "none"
    first = next(iter(run.benchmarks.values()))
    env = first.environment
    where = (f"{run.machine['cpu']}" + (f", {run.machine['gpu']}" if gpu else "")
             + (f", torch {env.torch} with {env.threads} thread(s), device {env.device}" if env else "")
             + f", timer {run.machine['timer']}")
    parts = [f"# matmul ladder\n\nFrom `{run.source}` ({run.datetime or '?'}; {where}).\n"]
    if env and (env.openmp_runtimes or 0) > 1:
        parts.append(TWO_RUNTIMES_NOTE + "\n")
    summary = roofline_summary(run, gpu)
    if summary:
        parts.append("## Roofline\n\n" + "\n".join(summary) + "\n")
    parts.append("## x_train[:rows] @ weights\n\n" + matmul_tables(run, gpu))
    forward = forward_tables(run, gpu)
    if forward:
        parts.append("## Forward pass\n\n" + forward)
    if beyond_roof(run, roofs(run)):
        parts.append(BEYOND_NOTE + "\n")
    parts.append(kernel_list(run))
    return "\n".join(parts)


def kernel_summaries(run: Run) -> dict[str, str]:
    """Each kernel of the run with what it did: as the run recorded it, else (an
    older run) as today's registry says."""
    import matmul

    found: dict[str, str] = {}
    for bench in run.benchmarks.values():
        work = bench.workload
        if work is not None and work.suite in ("matmul", "forward"):
            found[work.kernel] = found.get(work.kernel) or work.summary
    for name, summary in found.items():
        if not summary:
            kernel = matmul.KERNELS.get(name)
            found[name] = kernel.summary if kernel else "not registered here"
    return found


KERNEL_COLUMNS = (Column("kernel", "left", lambda item: item[0]),
                  Column("what it does", "left", lambda item: item[1]))


def kernel_list(run: Run) -> str:
    """The kernels of the run with what each does (its docstring's first line)."""
    return "\n".join(["## Kernels", "",
                      *table.markdown(KERNEL_COLUMNS, kernel_summaries(run).items())]) + "\n"
