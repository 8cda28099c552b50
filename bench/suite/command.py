"""The command lines that run the suite: the one definition of a gate-ready run.

A gate-ready run is what the regression gate compares: one thread (torch,
MKL and numba), process CPU time as the clock for both halves of every pair
(waiting for a core on a shared machine is not counted), and the raw samples
saved. The main job (`python -m bench run`) uses the same settings with
`--gate-ready`; `python -m bench ab`, the gate study and CI use them always.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

BENCHMARKS = "tests/benchmarks"

# Set before torch loads, for every run. OpenMP's spinning after a region is
# left at its default: torch and numba share one runtime in a suite process
# (matmul.openmp), so the threads that spin are the ones the next region of
# either needs, and a shorter spin made each round wake sleeping threads
# (a 5-row forward pass paired with the builtin: 43.9 µs instead of 26-27 µs).
# torch's allocator asks for transparent huge pages: streaming a 157 MB x on
# 4 KB pages spends a share of every kernel's time in page walks, which the
# roofline (one read of x) pays alike.
SUITE_ENV = {"THP_MEM_ALLOC_ENABLE": "1"}
# One thread: on a shared or small machine a second thread makes short calls
# wait for a free core, and CPU time stands for the call's own time only with
# one thread. NUMBA too: a parallel numba kernel otherwise resets OpenMP's
# thread count for the torch calls after it.
# MATMUL_BENCH_ALTERNATIVES: each round also times the alternative references
# (bench.suite.cases), for the gate to choose the one that drifts with each
# benchmark; an environment variable, not an option, so that an older
# revision's suite, which knows none, runs as before.
GATE_READY_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
                  "MATMUL_BENCH_ALTERNATIVES": "1"}
# Bound to one CPU: moved between cores, a run finds its caches cold at random
# (bench.suite.pinning). Each benchmark's rounds in passes spread over the run,
# so that its median averages the drift within the process (bench.suite.passes).
GATE_READY_PASSES = 4
GATE_READY_ARGS = ("--benchmark-timer=time.process_time", "--benchmark-save-data",
                   "--bench-pin-cpu=auto", f"--bench-passes={GATE_READY_PASSES}")
# Per-benchmark --benchmark-max-time from a JSON file (bench.gate.rounds); bench ab
# looks for this name in a tree's copy of this file before it passes the option
# (bench.tree.Tree.takes_max_times).
MAX_TIMES_OPTION = "--bench-max-times"
# The slowdown injection is for trying the gates out; a run never inherits it.
SCRUBBED_ENV = ("MATMUL_BENCH_SLOWDOWN",)


def environment(*, gate_ready: bool, base: dict[str, str] | None = None,
                mnist_dir: Path | None = None, keep_slowdown: bool = False) -> dict[str, str]:
    """The environment of a suite run, from `base` (default: this process's)."""
    env = dict(os.environ if base is None else base)
    if not keep_slowdown:
        for name in SCRUBBED_ENV:
            env.pop(name, None)
    env.update(SUITE_ENV)
    if gate_ready:
        env.update(GATE_READY_ENV)
    if mnist_dir is not None:
        env["MNIST_DIR"] = str(mnist_dir)
    return env


def pytest_command(*args: str, gate_ready: bool, targets: tuple[str, ...] = (BENCHMARKS,)
                   ) -> list[str]:
    """python -m pytest over the benchmarks (or the given node ids), timed, with the
    gate-ready settings if asked."""
    # No hypothesis plugin: the benchmarks do not use it, and at exit it imports
    # hypothesis whole, which costs a benchmark process more than half a second.
    command = [sys.executable, "-m", "pytest", *targets, "-p", "no:cacheprovider",
               "-p", "no:hypothesispytest", "-q", "--benchmark-enable"]
    if gate_ready:
        command += GATE_READY_ARGS
    return command + list(args)
