"""Where the fused forward pass's share of the compute roof goes, measured.

    python tools/forward_ceiling.py [--rows 50000] [--rounds 15]

The report judges numba_fused's forward pass (784 -> 50 -> 10) on 50 000 rows
against the FMA microkernel's best round (bench/suite/roofs.py). This splits
the gap into steps, all timed in the same rounds, one call of each per round,
interleaved, so that the machine's drift falls on every step alike:

- `fma`: the roof's microkernel, as the suite times it: its rounds one after
  another, so the last of STREAK_S of calls is the one timed;
- `fma after a kernel`: the same microkernel in calls 16 times shorter, the
  2nd to 4th call right after a forward pass (the 1st carries the vector
  units' wake-up): how fast FMAs issue in the state a kernel with loads leaves;
- `layer-1 loop in cache`: simd's broadcast blocks, the forward pass's
  layer-1 loop over its whole vectors of outputs (48 of the 50 with AVX-512's
  or AVX2's floats), over CACHE_ROWS rows again and again: the loop's own
  ceiling, with nothing from memory;
- `layer-1 loop streaming`: the same loop once over all rows, each block
  prefetching the next, as the pass does;
- `forward`: compiled.fused_forward on all rows (adds layer 1's last two
  outputs, relu, layer 2, and the thread pool).

On one thread, then `fma`, `fma after a kernel` and `forward` on all of
numba's threads, in the suite's environment (bench.suite.command's
SUITE_ENV, set before torch loads: x on transparent huge pages). x is random
normal float32 (its values do not change the work), not MNIST. Every step's result is checked before it is timed. Prints
a markdown table; README's roofline section quotes it with the machine named.
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
from forward.mlp import MLP  # noqa: E402
from matmul import compiled  # noqa: E402
from matmul.prepared import aligned_zeros  # noqa: E402

# Rows the cache-resident loop goes over: 96 x 784 floats (301 KB) plus the
# 784 x 48 weights (150 KB) stay in the smallest L2 of the machines so far (512 KB).
CACHE_ROWS = 96
# fma after a kernel: calls this much shorter than the roof's, this many after each pass.
AFTER_SHORTER = 16
AFTER_CALLS = 4
# fma: calls back to back for this long, the last one timed. On the Xeon of
# round 3 an FMA loop ran 7-10 % slower for about 3 ms after a kernel with
# loads; the suite's roof benchmark runs its rounds back to back like this.
STREAK_S = 0.02

if compiled.numba is not None:
    numba, simd = compiled.numba, compiled.simd

    @numba.njit(cache=True)
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
    h = np.empty((check.shape[0], w.shape[1]), x.dtype)
    _layer1_loop(check, w, bias, h, 1, 1, rows, vectors)
    expected = torch.relu(torch.from_numpy(check) @ torch.from_numpy(w) + torch.from_numpy(bias))
    torch.testing.assert_close(torch.from_numpy(h), expected, rtol=1e-4, atol=1e-4)
    buffer = aligned_zeros((len(rows), w.shape[1]), x.dtype)

    def call():
        _layer1_loop(x, w, bias, buffer, reps, 0, rows, vectors)

    return call, cases.flops(x.shape[0] * reps, x.shape[1], w.shape[1])


def _whole_vectors(n: int) -> int:
    lanes = simd.VECTOR_BYTES // 4
    return n - n % lanes


def _forward(x: torch.Tensor, layers):
    """A timed call of the fused pass over x, checked first, and its flops."""
    torch.testing.assert_close(compiled.fused_forward(x, layers), cases.torch_forward(x, layers),
                               rtol=1e-4, atol=1e-4)
    work = sum(cases.flops(x.shape[0], layer.w.shape[0], layer.w.shape[1]) for layer in layers)
    return (lambda: compiled.fused_forward(x, layers)), work


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _streak(call) -> None:
    end = time.perf_counter() + STREAK_S
    while time.perf_counter() < end:
        call()


def measure(rows: int = 50_000, rounds: int = 15, thread_counts=None) -> list[dict]:
    """One row per step and thread count: median seconds, GFLOP/s, and the
    share of that thread count's `fma` best and median round."""
    if compiled.numba is None:
        raise SystemExit(compiled.NUMBA_MISSING)
    most = compiled.numba.get_num_threads()
    x = torch.randn(rows, 784, generator=torch.Generator().manual_seed(0))
    layers = MLP.kaiming().layers
    table = []
    try:
        for threads in thread_counts or sorted({1, most}):
            peak, short = _fma_calls(threads)
            steps = {}  # timed in this order, one call each a round; the forward pass last
            if threads == 1:
                steps["layer-1 loop in cache"] = _layer1(x.numpy()[:CACHE_ROWS], layers,
                                                         max(1, rows // CACHE_ROWS))
                steps["layer-1 loop streaming"] = _layer1(x.numpy(), layers, 1)
            steps["forward"] = _forward(x, layers)
            seconds = {name: [] for name in ["fma", "fma after a kernel", *steps]}
            for _ in range(rounds):
                _streak(peak.call)
                seconds["fma"].append(_timed(peak.call))
                for name, (call, _) in steps.items():
                    seconds[name].append(_timed(call))
                seconds["fma after a kernel"] += [_timed(short.call) for _ in range(AFTER_CALLS)][1:]
            flops = {"fma": peak.flops, "fma after a kernel": short.flops,
                     **{name: work for name, (_, work) in steps.items()}}
            rate = {name: flops[name] / np.median(s) for name, s in seconds.items()}
            best = peak.flops / np.min(seconds["fma"])
            table += [{"step": name, "threads": threads, "median_s": float(np.median(s)),
                       "gflops": rate[name] / 1e9, "of_best": rate[name] / best,
                       "of_median": rate[name] / rate["fma"]} for name, s in seconds.items()]
    finally:
        compiled.numba.set_num_threads(most)
    return table


def markdown(table: list[dict]) -> str:
    lines = ["| step | threads | median | GFLOP/s | of `fma`'s best round | of its median |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['step']} | {r['threads']} | {r['median_s'] * 1e3:.2f} ms | {r['gflops']:.0f} | "
              f"{r['of_best']:.0%} | {r['of_median']:.0%} |" for r in table]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="rows of x (default 50 000)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds of every step (default 15)")
    args = parser.parse_args(argv)
    for name in ("rows", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    cpu = cpu_info()
    print(f"{cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} CPUs, "
          f"L2 {cpu.get('l2_cache_size', '?')}; torch {torch.__version__}, "
          f"numba {compiled.numba.__version__ if compiled.numba else 'missing'}\n")
    print(markdown(measure(args.rows, args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
