"""This machine's roofline, from the roofline benchmarks of the same run.

Two roofs bound any call: moving its compulsory bytes at the memory bandwidth
and doing its flops at the compute peak.

- Memory: per slice, the best of the read kernels of bench.suite.roofs (torch's
  sum and numba's wide-load read at 1 .. N threads; numba's reads a small
  slice over and over in one call, so a slice that stays in cache is read
  at the cache's speed, not a call's), named with the reader and thread
  count that reached it.
- Compute: the FMA-throughput microkernel (the hardware's peak). The best
  library GEMM (a large square builtin product) is reported beside it; it is
  the roof only in a run without the microkernel, which the summary says.

Both are the best of their rounds: what the machine can do. The targets are
judged at the median of every round; where a kernel's rounds timed the FMA
probe (the largest slice, bench.suite.cases.PROBED_ROWS), the summary also
gives the median of its calm rounds (bench.gate.calm: the probe's second
reading within 15 % of its fastest in the run), so that a reader sees how
much of the distance to the roof was the host sharing the core. A call's roofline
time is max(bytes / bandwidth, flops / peak), and "% of roofline" is that time
over the call's median. No call can beat a roof it is measured against: one
that does (at its best round against the roof's) shows the roof was measured
wrong, and the summary says so, as a warning, instead of judging a target.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bench.gate import calm
from bench.policy import FORWARD_TARGET, SKINNY_TARGET
from bench.runs import Benchmark, Run
from bench.suite import cases

# The summary checks the targets (bench.policy) at the median.
# The mark on a share whose call beat its roof, and what it means.
BEYOND = "†"
BEYOND_NOTE = (f"{BEYOND} faster than the roofline at its best round: the roof it is "
               "measured against is wrong (see the warnings under Roofline).")


@dataclass(frozen=True)
class Read:
    """The best read of one slice."""

    bandwidth: float   # bytes/s
    reader: str        # "torch" or "numba" ("" in runs that did not record it)
    threads: int | None
    # bytes/s of the same reader at its median round: a VM's memory bandwidth
    # moves with the host's traffic (round 3's Zen 4, stop 39: 38 -> 67 GB/s
    # between the passes of one run), and the roof is its best moment.
    median_bandwidth: float | None = None


@dataclass(frozen=True)
class Roofs:
    fma_peak: float | None       # flop/s of the FMA microkernel (None: not in the run)
    library_peak: float | None   # flop/s of the builtin GEMM (None: not in the run)
    reads: dict[int, Read] = field(default_factory=dict)   # rows -> the slice's best read
    fma_params: dict = field(default_factory=dict)          # what the microkernel was
    # flop/s of the same microkernel at its median round: the roof is its best
    # round, the kernels are judged at theirs, and a VM's clock moves between
    # (the Xeon of round 3, stop 35: median 7 % under the best).
    fma_median: float | None = None

    @property
    def peak(self) -> float | None:
        """The compute roof: the FMA microkernel's, else the library GEMM's."""
        return self.fma_peak or self.library_peak

    @property
    def bandwidth(self) -> dict[int, float]:
        """rows -> bytes/s of the slice's best read."""
        return {rows: read.bandwidth for rows, read in self.reads.items()}


@dataclass(frozen=True)
class Placement:
    """Where one call stands against the roofline."""

    time: float        # the roofline's time for the call
    bound_by: str      # "memory" or "compute"
    fraction: float    # roofline time / the call's median: 1.0 is at the roof
    best_fraction: float  # roofline time / the call's best round, like the roofs' own

    @property
    def beyond_roof(self) -> bool:
        """The call's best round beat the roofline: a roof is wrong."""
        return self.best_fraction > 1


def roofs(run: Run) -> Roofs:
    fma, fma_median, library, fma_params, reads = None, None, None, {}, {}
    for bench in run.benchmarks.values():
        work = bench.workload
        if work is None or work.suite != "roofline":
            continue
        rate = work.flops / bench.min
        if work.kernel == cases.FMA_PEAK and (fma is None or rate > fma):
            fma, fma_params, fma_median = rate, dict(work.params), work.flops / bench.median
        elif work.kernel == cases.PEAK_GEMM:
            library = max(library or 0.0, rate)
        elif work.kernel == cases.READ_X:
            read = Read(work.bytes / bench.min, work.params.get("reader", ""),
                        work.params.get("threads"), work.bytes / bench.median)
            if work.rows not in reads or read.bandwidth > reads[work.rows].bandwidth:
                reads[work.rows] = read
    return Roofs(fma, library, reads, fma_params, fma_median)


def place(bench: Benchmark, roofs: Roofs) -> Placement | None:
    """The call's placement, or None when the run measured neither roof for its slice."""
    work = bench.workload
    bandwidth = roofs.bandwidth.get(work.rows)
    memory = work.bytes / bandwidth if bandwidth else 0.0
    compute = work.flops / roofs.peak if roofs.peak else 0.0
    if not (memory or compute):
        return None
    time = max(memory, compute)
    return Placement(time, "memory" if memory >= compute else "compute", time / bench.median,
                     time / bench.min)


def share_cell(placed: Placement) -> str:
    """"% of roofline" at the median, marked when the call beat its roof."""
    return f"{placed.fraction * 100:.0f} %" + (f" {BEYOND}" if placed.beyond_roof else "")


# ---------------------------------------------------------------- the summary

def flop_rate(flops_per_s: float, gpu: bool) -> str:
    """GFLOP/s, or TFLOP/s on a GPU."""
    return f"{flops_per_s / (1e12 if gpu else 1e9):.3g}"


def flop_header(gpu: bool) -> str:
    return "TFLOP/s" if gpu else "GFLOP/s"


def _largest_slice(run: Run, suite: str) -> tuple[int, dict[str, Benchmark]] | None:
    table: dict[int, dict[str, Benchmark]] = {}
    for bench in run.benchmarks.values():
        if bench.workload is not None and bench.workload.suite == suite:
            table.setdefault(bench.workload.rows, {})[bench.workload.kernel] = bench
    if not table:
        return None
    rows = max(table)
    return rows, table[rows]


def beyond_roof(run: Run, machine_roofs: Roofs) -> list[tuple[Benchmark, Placement]]:
    """Every matmul and forward call that beat its roofline at its best round."""
    found = []
    for bench in run.benchmarks.values():
        if bench.workload is None or bench.workload.suite not in ("matmul", "forward"):
            continue
        placed = place(bench, machine_roofs)
        if placed is not None and placed.beyond_roof:
            found.append((bench, placed))
    return found


def _count(number: int, plural: str) -> str:
    return f"{number} {plural if number != 1 else plural[:-1]}"


def _compute_line(machine_roofs: Roofs, gpu: bool) -> str | None:
    def rate(flops: float) -> str:
        return f"{flop_rate(flops, gpu)} {flop_header(gpu)}"

    library = (f"builtin {cases.PEAK_GEMM} at {rate(machine_roofs.library_peak)}"
               if machine_roofs.library_peak else None)
    if machine_roofs.fma_peak:
        p = machine_roofs.fma_params
        what = ", ".join(_count(p[key], key) for key in ("lanes", "chains", "threads") if key in p)
        where = p.get("isa") or p.get("device")
        median = (f", {flop_rate(machine_roofs.fma_median, gpu)} at its median round"
                  if machine_roofs.fma_median else "")
        line = (f"- compute roof: {rate(machine_roofs.fma_peak)} (the FMA microkernel"
                f"{' in ' + where if where else ''}{': ' + what if what else ''}; "
                f"best of its rounds{median})")
        if library:
            share = machine_roofs.library_peak / machine_roofs.fma_peak
            line += f"; the best library GEMM: {library}, {share * 100:.0f} % of it"
        return line
    if library:
        return (f"- compute roof: {library}, best of its rounds (no FMA microkernel in "
                "this run: the roof is the library's, not the hardware's)")
    return None


def _memory_line(machine_roofs: Roofs) -> str | None:
    if not machine_roofs.reads:
        return None
    rows = max(machine_roofs.reads)
    read = machine_roofs.reads[rows]
    by = ""
    if read.reader:
        by = f" by {read.reader}'s read" + (f" on {_count(read.threads, 'threads')}"
                                             if read.threads else "")
    median = (f"; {read.median_bandwidth / 1e9:.3g} GB/s at that reader's median round"
              if read.median_bandwidth else "")
    return (f"- memory roof: {read.bandwidth / 1e9:.3g} GB/s (one read of x_train[:{rows}]"
            f"{by}, the best of the run's readers at their best rounds{median})")


@dataclass(frozen=True)
class Calm:
    """A benchmark's calm rounds (bench.gate.calm, by the probe's second reading)."""

    median: float   # seconds: the median of the calm rounds
    kept: int
    rounds: int


def calm_rounds(run: Run, bench: Benchmark) -> Calm | None:
    """The median of the benchmark's calm rounds, the probe's level taken over
    every benchmark of the run that timed it; None without the probe, raw
    samples or MIN_ROUNDS calm rounds."""
    if bench.samples is None or calm.AGAIN not in bench.alternatives:
        return None
    probed = [b for b in run.benchmarks.values()
              if b.samples is not None and calm.AGAIN in b.alternatives]
    kept = calm.rounds(bench, calm.AGAIN, calm.levels(probed))
    if kept is None:
        return None
    return Calm(float(np.median(bench.samples[kept])), int(kept.sum()), len(kept))


def _calm_text(found: Calm | None, figure: Callable[[float], str]) -> str:
    """What the summary says of a benchmark's calm rounds: figure(seconds) is
    how the line states a time against the roof."""
    if found is None:
        return ""
    return (f"; over its {found.kept} calm rounds of {found.rounds} (its FMA probe, read "
            f"a second time, within {np.expm1(calm.MARGIN) * 100:.0f} % of its fastest: the "
            f"core not shared), {figure(found.median)} at their median")


def _verdict(met: bool, target: str, judged: bool) -> str:
    if not judged:
        return f"the {target} target not judged: a roof of this run is wrong"
    return f"{'meets' if met else 'misses'} the {target} target"


def roofline_summary(run: Run, gpu: bool = False) -> list[str]:
    """The roofs, the two targets (the skinny layer's best kernel against its
    roofline, the best forward pass against the compute roof, both at the
    median on the largest slice), and a warning per call that beat its roof."""
    machine_roofs = roofs(run)
    lines = [line for line in (_compute_line(machine_roofs, gpu), _memory_line(machine_roofs))
             if line]
    beyond = beyond_roof(run, machine_roofs)
    library_beyond = (machine_roofs.fma_peak is not None and machine_roofs.library_peak is not None
                      and machine_roofs.library_peak > machine_roofs.fma_peak)
    compute_wrong = library_beyond or any(p.bound_by == "compute" for _, p in beyond)
    memory_wrong = {b.workload.rows for b, p in beyond if p.bound_by == "memory"}
    skinny = _largest_slice(run, "matmul")
    if skinny:
        rows, kernels = skinny
        placed = [(p, name) for name, b in kernels.items() if (p := place(b, machine_roofs))]
        if placed:
            best, name = max(placed, key=lambda pn: pn[0].fraction)
            judged = not compute_wrong and rows not in memory_wrong
            verdict = _verdict(1 / best.fraction <= SKINNY_TARGET, f"{SKINNY_TARGET}x", judged)
            quiet = _calm_text(calm_rounds(run, kernels[name]),
                               lambda seconds: f"{seconds / best.time:.2f}x")
            lines.append(f"- x_train[:{rows}] @ weights: best {name} at "
                         f"{1 / best.fraction:.2f}x its roofline at its median, "
                         f"{1 / best.best_fraction:.2f}x at its best round "
                         f"({best.bound_by}-bound; {verdict}){quiet}")
    forward = _largest_slice(run, "forward")
    if forward and machine_roofs.peak:
        rows, kernels = forward
        name, bench = min(kernels.items(), key=lambda kv: kv[1].median)
        median, best = (bench.workload.flops / t / machine_roofs.peak
                        for t in (bench.median, bench.min))
        verdict = _verdict(median >= FORWARD_TARGET, f"{FORWARD_TARGET * 100:.0f} %",
                           not compute_wrong)
        # Beside the judged share, the share of the roof's own median round:
        # typical against typical, what the machine's drift leaves out.
        typical = ""
        if machine_roofs.fma_median:  # measured with fma_peak, the roof
            share = bench.workload.flops / bench.median / machine_roofs.fma_median
            typical = f" ({share * 100:.0f} % of the roof's median round)"
        quiet = _calm_text(calm_rounds(run, bench), lambda seconds: (
            f"{bench.workload.flops / seconds / machine_roofs.peak * 100:.0f} %"))
        lines.append(f"- forward on x_train[:{rows}]: best {name} at {median * 100:.0f} % of "
                     f"the compute roof at its median{typical}, {best * 100:.0f} % at its best "
                     f"round ({verdict}){quiet}")
    if library_beyond:
        lines.append(f"- **warning**: the builtin {cases.PEAK_GEMM} ran faster than the FMA "
                     "microkernel: the compute roof was measured wrong and no target is "
                     "judged against it")
    for bench, placed in beyond:
        lines.append(f"- **warning**: {bench.name} ran at {placed.best_fraction * 100:.0f} % "
                     f"of its roofline at its best round ({placed.bound_by}-bound): faster "
                     f"than the {placed.bound_by} roof allows, so that roof was measured "
                     "wrong and no target is judged against it")
    return lines
