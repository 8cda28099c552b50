"""The speedup ladder of a saved run as markdown: per slice, every kernel against
the slowest and the reference kernel and against this machine's roofline;
then the forward pass per kernel."""
from __future__ import annotations

from collections import defaultdict

from bench.runs import Benchmark, Run
from bench.suite import cases
from bench.units import format_time

from .roofline import BEYOND_NOTE, Roofs, beyond_roof, place, roofline_summary, roofs, share_cell
from .roofline import flop_header as _flop_header
from .roofline import flop_rate as _flop_rate

SLOWEST = "three_loops"
REFERENCE = cases.REFERENCE_KERNEL


def by_rows(run: Run, suite: str) -> dict[int, dict[str, Benchmark]]:
    """rows -> kernel -> benchmark, for one suite of the run."""
    table: dict[int, dict[str, Benchmark]] = defaultdict(dict)
    for bench in run.benchmarks.values():
        if bench.workload is not None and bench.workload.suite == suite:
            table[bench.workload.rows][bench.workload.kernel] = bench
    return dict(sorted(table.items()))


def per_row_time(table: dict[int, dict[str, Benchmark]], kernel: str) -> float | None:
    """Seconds per row of `kernel`, from its largest measured slice (for extrapolation)."""
    measured = [(rows, t[kernel].median) for rows, t in table.items() if kernel in t]
    if not measured:
        return None
    rows, seconds = max(measured)
    return seconds / rows


def _ratio(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:,.0f}"


def _placement_cells(bench: Benchmark, machine_roofs: Roofs) -> list[str]:
    placed = place(bench, machine_roofs)
    if placed is None:
        return ["n/a", "n/a"]
    return [share_cell(placed), placed.bound_by]


def _markdown_table(headers: list[str], right: set[str], rows: list[list[str]]) -> list[str]:
    """A markdown table; the columns named in `right` are right-aligned."""
    return (["| " + " | ".join(headers) + " |",
             "| " + " | ".join("---:" if h in right else "---" for h in headers) + " |"]
            + ["| " + " | ".join(row) + " |" for row in rows])


def _slowest_first(kernels: dict[str, Benchmark]) -> list[tuple[str, Benchmark]]:
    return sorted(kernels.items(), key=lambda kv: -kv[1].median)


def _slower_than_reference(bench: Benchmark, kernels: dict[str, Benchmark]) -> str:
    return _ratio(bench.median / kernels[REFERENCE].median) if REFERENCE in kernels else "n/a"


def matmul_tables(run: Run, gpu: bool = False) -> str:
    table, machine_roofs = by_rows(run, "matmul"), roofs(run)
    slow_per_row = per_row_time(table, SLOWEST)
    headers = ["kernel", "median", _flop_header(gpu), "GB/s", "% of roofline", "bound by",
               f"x faster than {SLOWEST}", f"x slower than {REFERENCE}"]
    right = set(headers) - {"kernel", "bound by"}
    lines = []
    for rows, kernels in table.items():
        slowest, marker = (kernels[SLOWEST].median, "") if SLOWEST in kernels else (None, "")
        if slowest is None and slow_per_row is not None:
            slowest, marker = slow_per_row * rows, "*"
        cells = [[name, format_time(b.median), _flop_rate(b.workload.flops / b.median, gpu),
                  f"{b.workload.bytes / b.median / 1e9:.3g}", *_placement_cells(b, machine_roofs),
                  f"{slowest / b.median:,.0f}{marker}" if slowest else "n/a",
                  _slower_than_reference(b, kernels)]
                 for name, b in _slowest_first(kernels)]
        placed = place(next(iter(kernels.values())), machine_roofs)
        if placed is not None:
            cells.append(["*roofline: max(bytes / bandwidth, flops / peak)*",
                          format_time(placed.time), "", "", "100 %", placed.bound_by, "", ""])
        lines += [f"#### x_train[:{rows}] @ weights (784 x 10)", "",
                  *_markdown_table(headers, right, cells), ""]
    if slow_per_row and any(SLOWEST not in t for t in table.values()):
        lines.append(f"\\* {SLOWEST} was not run on this slice (beyond its cost budget): its "
                     "time is extrapolated per row from its largest measured slice.")
    return "\n".join(lines).rstrip() + "\n"


def forward_tables(run: Run, gpu: bool = False) -> str:
    table, machine_roofs = by_rows(run, "forward"), roofs(run)
    headers = ["kernel", "median", _flop_header(gpu), "% of roofline", "bound by",
               f"x slower than {REFERENCE}"]
    right = set(headers) - {"kernel", "bound by"}
    lines = []
    for rows, kernels in table.items():
        cells = [[name, format_time(b.median), _flop_rate(b.workload.flops / b.median, gpu),
                  *_placement_cells(b, machine_roofs), _slower_than_reference(b, kernels)]
                 for name, b in _slowest_first(kernels)]
        lines += [f"#### forward 784 -> 50 -> 10 on x_train[:{rows}]", "",
                  *_markdown_table(headers, right, cells), ""]
    return "\n".join(lines).rstrip() + "\n" if lines else ""


def markdown(run: Run) -> str:
    """The whole report: header, roofline summary, matmul ladder, forward tables."""
    gpu = run.machine["gpu"] != "none"
    first = next(iter(run.benchmarks.values()))
    env = first.environment
    where = (f"{run.machine['cpu']}" + (f", {run.machine['gpu']}" if gpu else "")
             + (f", torch {env.torch} with {env.threads} thread(s), device {env.device}" if env else "")
             + f", timer {run.machine['timer']}")
    parts = [f"# matmul ladder\n\nFrom `{run.source}` ({run.datetime or '?'}; {where}).\n"]
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


def kernel_list(run: Run) -> str:
    """The kernels of the run with what each does (its docstring's first line)."""
    import matmul

    names = dict.fromkeys(b.workload.kernel for b in run.benchmarks.values()
                          if b.workload is not None and b.workload.suite in ("matmul", "forward"))
    lines = ["## Kernels", "", "| kernel | what it does |", "| --- | --- |"]
    for name in names:
        kernel = matmul.KERNELS.get(name)
        lines.append(f"| {name} | {kernel.summary if kernel else 'not registered here'} |")
    return "\n".join(lines) + "\n"
