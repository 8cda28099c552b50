"""Where the two roofline targets' gaps go, measured step by step.

    python tools/roof_gaps.py [forward] [skinny] [--rows 50000] [--rounds 15]

The report (bench/report/roofline.py) judges, on 50 000 rows at the median,
numba_fused's forward pass (784 -> 50 -> 10) against the FMA microkernel's
best round, and the skinny layer x @ w (784 x 10) against the best read of x.
This splits each gap into steps, all timed in the same rounds, one call of
each a round, interleaved, so that the machine's drift falls on every step
alike. Every step's result is checked before it is timed. It runs in the
suite's environment (bench.suite.command's SUITE_ENV, set before torch
loads: x on transparent huge pages); x is random normal float32, not MNIST
(its values do not change the work).

forward: on one thread all six steps, on all of numba's threads all but the layer-1 loops:
- `fma`: the roof's microkernel, as the suite times it: its rounds back to
  back, so the last of STREAK_S of calls is the one timed;
- `fma, short calls`: the same FMAs in calls 16 times shorter, the 2nd to
  4th of AFTER_CALLS right after `fma`: what a short call's own overhead costs;
- `fma after a kernel`: the same short calls, the 2nd to 4th right after a
  forward pass (the 1st carries the vector units' wake-up): against `fma,
  short calls`, how fast FMAs issue in the state a kernel with loads leaves;
- `layer-1 loop in cache`: the pass's layer-1 loop (simd's broadcast blocks
  over the whole vectors of outputs: 48 of the 50 with AVX-512's or AVX2's
  floats) over CACHE_ROWS rows again and again: its ceiling, nothing from memory;
- `layer-1 loop streaming`: the same loop once over all rows, each block
  prefetching the next, as the pass does;
- `forward`: compiled.fused_forward on all rows (adds layer 1's last two
  outputs, relu, layer 2, and the thread pool).

skinny, on one thread and on all of numba's:
- `read: torch`, `read: numba`: the memory roof's readers at that thread
  count (bench/suite/roofs.py); the faster one's median is the row every
  other is against;
- `numba_tuned in cache`: numba_tuned's dot-block loop over CACHE_ROWS rows a
  thread, again and again, as many rows in all: its arithmetic alone;
- `numba_fused in cache`: the same for numba_fused's product loop (its
  grouped blocks, in the vectors it chooses on this machine);
- `numba_tuned`, `numba_fused`: the kernels on all rows, through the
  registry as the suite calls them (the report judges the faster).

Prints a markdown table per part; README's roofline section quotes them with
the machine named.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from bench.suite.command import SUITE_ENV  # noqa: E402

# As in every suite run (x on transparent huge pages), set before torch loads.
for _name, _value in SUITE_ENV.items():
    os.environ.setdefault(_name, _value)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.suite import cases, roofs  # noqa: E402
from bench.suite.machine import cpu_info  # noqa: E402
from bench.table import Column, markdown  # noqa: E402
from forward import check_forward  # noqa: E402
from forward.mlp import MLP  # noqa: E402
from matmul import KERNELS, compiled  # noqa: E402
from matmul.accuracy import check_product  # noqa: E402
from matmul.prepared import aligned_zeros  # noqa: E402

# Rows the cache-resident loops go over (a thread): 96 x 784 floats (301 KB)
# plus the weights (150 KB for 784 x 48) stay in the smallest L2 of the machines so far (512 KB).
CACHE_ROWS = 96
# fma after a kernel: calls this much shorter than the roof's, this many after each pass.
AFTER_SHORTER = 16
AFTER_CALLS = 4
# fma: calls back to back for this long, the last one timed. On the Xeon of
# round 3 an FMA loop ran 5-18 % slower for 1.5-3.5 ms after a kernel with
# loads; the suite's roof benchmark runs its rounds back to back like this.
STREAK_S = 0.02
PARTS = ("forward", "skinny")

if compiled.numba is not None:
    numba, simd = compiled.numba, compiled.simd

    # Compiled in each run, never cached: numba's disk cache of a module run
    # as a script or loaded from its path (the tests) fails to load it again.
    @numba.njit
    def _layer1_loop(x, w, bias, h, reps, keep, rows, vectors):
        # relu(x @ w + bias) by the fused pass's broadcast blocks, `reps`
        # times over x's rows, each block prefetching the next as the pass
        # does, into h's first R rows (keep=0, as the pass's buffer) or into
        # h's row i (keep=1, to check it).
        m, n_rows = x.shape[0], len(rows)
        for _ in range(reps):
            for i0 in range(0, m, n_rows):
                lead = i0 + n_rows if i0 + 2 * n_rows <= m else -1
                simd._broadcast_layer(x, i0, min(n_rows, m - i0), w, bias, h, i0 * keep, True,
                                      lead, rows, vectors)

    @numba.njit(parallel=True)
    def _dot_loop(x, bt, c, reps, ahead, rows, cols):
        # c = x @ bt[:n].T by numba_tuned's loop (simd.blocked_serial), each
        # thread `reps` times over its own CACHE_ROWS rows of x.
        for part in numba.prange(x.shape[0] // CACHE_ROWS):
            lo, hi = part * CACHE_ROWS, (part + 1) * CACHE_ROWS
            for _ in range(reps):
                simd.blocked_serial(x[lo:hi], bt, c[lo:hi], ahead, rows, cols)


    @numba.njit(parallel=True)
    def _fused_loop(x, w, bias, wg, tail, c, reps, ahead, rows, vectors, rest, width):
        # c = x @ w by numba_fused's product loop (simd.broadcast_serial: its
        # grouped blocks for the skinny layer), each thread `reps` times over
        # its own CACHE_ROWS rows of x.
        for part in numba.prange(x.shape[0] // CACHE_ROWS):
            lo, hi = part * CACHE_ROWS, (part + 1) * CACHE_ROWS
            for _ in range(reps):
                simd.broadcast_serial(x[lo:hi], w, bias, wg, tail, c[lo:hi], 1, ahead, rows,
                                      vectors, rest, width)


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _streak(call) -> None:
    end = time.perf_counter() + STREAK_S
    while time.perf_counter() < end:
        call()


def _rounds(steps: dict, rounds: int, before: dict | None = None,
            after: dict | None = None) -> dict[str, list[float]]:
    """Each step's seconds, one call a round in the steps' order; before[name]
    and after[name], untimed here, run just ahead of and just after that step's call."""
    before, after = before or {}, after or {}
    seconds = {name: [] for name in steps}
    for _ in range(rounds):
        for name, call in steps.items():
            if name in before:
                before[name]()
            seconds[name].append(_timed(call))
            if name in after:
                after[name]()
    return seconds


# ---------------------------------------------------------------- forward

def _fma_calls(threads: int) -> tuple[roofs.FmaPeak, roofs.FmaPeak]:
    """The roof's microkernel on `threads` threads, and its short form, each checked."""
    compiled.numba.set_num_threads(threads)
    calls = (roofs.fma_peak(torch.device("cpu")),
             roofs.fma_peak(torch.device("cpu"), roofs.ITERATIONS // AFTER_SHORTER))
    for peak in calls:
        if peak.call() != peak.expected:
            raise RuntimeError(f"the FMA microkernel computed {peak.call()}, not {peak.expected}")
    return calls


def _layer1(x: np.ndarray, layers, reps: int):
    """A timed call of the layer-1 loop over x, checked first, and its flops."""
    # On cache lines, as the pass's prepared weights (prepared.aligned_zeros says why).
    n = _whole_vectors(layers[0].w.shape[1])
    w, bias = aligned_zeros((x.shape[1], n), x.dtype), aligned_zeros((1, n), x.dtype)
    w[:] = layers[0].w.numpy()[:, :n]
    bias[0] = layers[0].b.numpy()[:n]
    ahead, rows, vectors = compiled._broadcast_shape()
    check = x[:CACHE_ROWS]
    # NaN first: a loop that wrote nothing must fail the check, whatever the
    # memory held (a freed buffer of the same size may hold the right product).
    h = np.full((check.shape[0], w.shape[1]), np.nan, x.dtype)
    _layer1_loop(check, w, bias, h, 1, 1, rows, vectors)
    expected = torch.relu(torch.from_numpy(check) @ torch.from_numpy(w) + torch.from_numpy(bias))
    torch.testing.assert_close(torch.from_numpy(h), expected, rtol=1e-4, atol=1e-4)
    buffer = aligned_zeros((len(rows), w.shape[1]), x.dtype)

    def call():
        _layer1_loop(x, w, bias, buffer, reps, 0, rows, vectors)

    return call, cases.flops(x.shape[0] * reps, x.shape[1], w.shape[1])


def _whole_vectors(n: int) -> int:
    return n - n % compiled._lanes(torch.float32)


def _forward(x: torch.Tensor, layers):
    """A timed call of the fused pass over x, checked first, and its flops."""
    check_forward(compiled.fused_forward(x, layers), layers, x)
    work = sum(cases.flops(x.shape[0], layer.w.shape[0], layer.w.shape[1]) for layer in layers)
    return (lambda: compiled.fused_forward(x, layers)), work


def forward_gaps(x: torch.Tensor, rounds: int, thread_counts) -> list[dict]:
    """A row per step and thread count: median seconds, GFLOP/s, and the share
    of that thread count's `fma` best and median round."""
    layers = MLP.kaiming().layers
    return [row for threads in thread_counts for row in _forward_at(x, layers, rounds, threads)]


def _forward_at(x: torch.Tensor, layers, rounds: int, threads: int) -> list[dict]:
    peak, short = _fma_calls(threads)
    work = {"fma": peak.flops, "fma, short calls": short.flops, "fma after a kernel": short.flops}
    steps = {}  # the forward pass last: the short FMA calls follow it
    if threads == 1:
        steps["layer-1 loop in cache"] = _layer1(x.numpy()[:CACHE_ROWS], layers,
                                                 max(1, x.shape[0] // CACHE_ROWS))
        steps["layer-1 loop streaming"] = _layer1(x.numpy(), layers, 1)
    steps["forward"] = _forward(x, layers)
    work.update((name, flops) for name, (_, flops) in steps.items())
    shorts = {"fma, short calls": [], "fma after a kernel": []}

    def short_calls(into):  # the 1st of them left out: see the module doc
        return lambda: into.extend([_timed(short.call) for _ in range(AFTER_CALLS)][1:])

    seconds = _rounds({"fma": peak.call, **{n: c for n, (c, _) in steps.items()}}, rounds,
                      before={"fma": lambda: _streak(peak.call)},
                      after={"fma": short_calls(shorts["fma, short calls"]),
                             "forward": short_calls(shorts["fma after a kernel"])})
    seconds.update(shorts)
    rate = {name: work[name] / np.median(s) for name, s in seconds.items()}
    best = peak.flops / np.min(seconds["fma"])
    return [{"part": "forward", "step": name, "threads": threads,
             "median_s": float(np.median(seconds[name])), "gflops": rate[name] / 1e9,
             "of_best": rate[name] / best, "of_median": rate[name] / rate["fma"]}
            for name in ["fma", *shorts, *steps]]


# ---------------------------------------------------------------- skinny

def _dot_in_cache(x: torch.Tensor, w: torch.Tensor, threads: int, reps: int):
    """A timed call of numba_tuned's loop over CACHE_ROWS rows of x a thread,
    `reps` times, checked first, and the rows it computes in all."""
    ahead, rows, cols = compiled._BLOCK
    bt = compiled._transposed(w, torch.float32, len(cols))
    part = x[:CACHE_ROWS * threads].contiguous()
    c = np.full((part.shape[0], w.shape[1]), np.nan, np.float32)  # NaN first, as in _layer1
    _dot_loop(part.numpy(), bt, c, 1, ahead, rows, cols)
    check_product(torch.from_numpy(c), part, w)
    return (lambda: _dot_loop(part.numpy(), bt, c, reps, ahead, rows, cols)), part.shape[0] * reps


def _fused_in_cache(x: torch.Tensor, w: torch.Tensor, threads: int, reps: int):
    """The same for numba_fused's product loop, in the vectors it chooses here."""
    ahead, rows, vectors = compiled._broadcast_shape()
    whole, bias, wg, tail, rest, width = compiled._columns(
        w, torch.float32, compiled.group_lanes(torch.float32))
    part = x[:CACHE_ROWS * threads].contiguous()
    c = np.full((part.shape[0], w.shape[1]), np.nan, np.float32)

    def call(reps=reps):
        _fused_loop(part.numpy(), whole, bias, wg, tail, c, reps, ahead, rows, vectors, rest,
                    width)

    call(1)
    check_product(torch.from_numpy(c), part, w)
    return call, part.shape[0] * reps


def skinny_gaps(x: torch.Tensor, rounds: int, thread_counts) -> list[dict]:
    """A row per step and thread count: median seconds, x's bytes per second
    (the rows a step computes, at 4 bytes an element), and the median against
    that thread count's faster read."""
    w = torch.randn(x.shape[1], 10, generator=torch.Generator().manual_seed(1))
    return [row for threads in thread_counts for row in _skinny_at(x, w, rounds, threads)]


def _skinny_at(x: torch.Tensor, w: torch.Tensor, rounds: int, threads: int) -> list[dict]:
    compiled.numba.set_num_threads(threads)
    torch.set_num_threads(threads)
    steps, rows = {}, {}
    for reader in roofs.readers("cpu"):
        if reader.threads == threads:
            repeats = reader.repeats(x)  # numba's read goes over a small x again and again
            with reader.threads_set():
                read = reader.prepare(x)
                total = float(read())
            if abs(total - repeats * x.double().sum().item()) > 1e-4 * repeats * x.abs().sum().item():
                raise RuntimeError(f"the {reader.name} read summed x wrong: {total}")
            steps[f"read: {reader.name}"], rows[f"read: {reader.name}"] = read, x.shape[0] * repeats
    reps = max(1, x.shape[0] // (CACHE_ROWS * threads))
    steps["numba_tuned in cache"], rows["numba_tuned in cache"] = _dot_in_cache(x, w, threads, reps)
    steps["numba_fused in cache"], rows["numba_fused in cache"] = _fused_in_cache(x, w, threads,
                                                                                  reps)
    for name in ("numba_tuned", "numba_fused"):
        kernel = KERNELS[name]
        check_product(kernel(x, w), x, w)
        steps[name], rows[name] = (lambda kernel=kernel: kernel(x, w)), x.shape[0]
    seconds = _rounds(steps, rounds)
    per_row = {name: np.median(s) / rows[name] for name, s in seconds.items()}
    read = min(per_row[name] for name in per_row if name.startswith("read: "))
    row_bytes = x.shape[1] * x.element_size()
    return [{"part": "skinny", "step": name, "threads": threads,
             "median_s": float(np.median(seconds[name])), "gbytes": row_bytes / per_row[name] / 1e9,
             "of_read": per_row[name] / read} for name in steps]


# ---------------------------------------------------------------- the tables

# The columns both tables lead with, then each part's rates.
_STEP = [Column("step", "left", lambda r: r["step"]),
         Column("threads", "right", lambda r: str(r["threads"])),
         Column("median", "right", lambda r: f"{r['median_s'] * 1e3:.2f} ms")]
COLUMNS = {
    "forward": [*_STEP,
                Column("GFLOP/s", "right", lambda r: f"{r['gflops']:.0f}"),
                Column("of `fma`'s best round", "right", lambda r: f"{r['of_best']:.0%}"),
                Column("of its median", "right", lambda r: f"{r['of_median']:.0%}")],
    "skinny": [*_STEP,
               Column("GB/s of x", "right", lambda r: f"{r['gbytes']:.1f}"),
               Column("x the faster read", "right", lambda r: f"{r['of_read']:.2f}")],
}
GAPS = {"forward": forward_gaps, "skinny": skinny_gaps}


def measure(parts=PARTS, rows: int = 50_000, rounds: int = 15, thread_counts=None) -> list[dict]:
    """Every row of the parts asked for, on 1 and all of numba's threads by default."""
    if compiled.numba is None:
        raise SystemExit(compiled.NUMBA_MISSING)
    most, torch_most = compiled.numba.get_num_threads(), torch.get_num_threads()
    x = torch.randn(rows, 784, generator=torch.Generator().manual_seed(0))
    try:
        return [row for part in parts
                for row in GAPS[part](x, rounds, thread_counts or sorted({1, most}))]
    finally:
        compiled.numba.set_num_threads(most)
        torch.set_num_threads(torch_most)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Checked below, not by choices=: Python 3.11's argparse checks an empty
    # "*" positional's [] against the choices and refuses it.
    parser.add_argument("parts", nargs="*", metavar="{forward,skinny}",
                        help="which gaps (default both)")
    parser.add_argument("--rows", type=int, default=50_000, help="rows of x (default 50 000)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds of every step (default 15)")
    args = parser.parse_args(argv)
    for name in ("rows", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    least = CACHE_ROWS * (compiled.numba.get_num_threads() if compiled.numba else 1)
    if args.rows < least:
        parser.error(f"--rows must be at least {least} ({CACHE_ROWS} a thread, the "
                     f"cache-resident steps' rows), got {args.rows}")
    unknown = [part for part in args.parts if part not in PARTS]
    if unknown:
        parser.error(f"no such part: {', '.join(unknown)} (the parts: {', '.join(PARTS)})")
    args.parts = args.parts or list(PARTS)
    cpu = cpu_info()
    print(f"{cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} CPUs, "
          f"L2 {cpu.get('l2_cache_size', '?')}; torch {torch.__version__}, "
          f"numba {compiled.numba.__version__ if compiled.numba else 'missing'}")
    table = measure(args.parts, args.rows, args.rounds)
    for part in args.parts:
        print(f"\n{part}:\n")
        print("\n".join(markdown(COLUMNS[part], [r for r in table if r["part"] == part])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
