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
# PYTHONHASHSEED: with the layout fixed (below), a fixed hash seed makes what
# a process allocates before it times anything (MNIST, the weights, their
# prepared copies) land at the same addresses in every process of both sides;
# a random one orders sets and dicts, and so their allocations, otherwise in
# each (fork) server.
GATE_READY_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
                  "MATMUL_BENCH_ALTERNATIVES": "1", "PYTHONHASHSEED": "0"}
# Bound to one CPU: moved between cores, a run finds its caches cold at random
# (bench.suite.pinning). Each benchmark's rounds in passes spread over the run,
# so that its median averages the drift within the process (bench.suite.passes).
GATE_READY_PASSES = 4
GATE_READY_ARGS = ("--benchmark-timer=time.process_time", "--benchmark-save-data",
                   "--bench-pin-cpu=auto", f"--bench-passes={GATE_READY_PASSES}")
# Per-benchmark --benchmark-max-time from a JSON file (bench.gate.rounds); bench ab
# looks for this name in a tree's copy of this file before it passes the option
# (bench.tree.Tree.takes).
MAX_TIMES_OPTION = "--bench-max-times"
# off: no memory phase (bench.suite.memory). bench ab judges memory from its
# first blocks and turns it off in the later ones, where it cost each process
# 0.8 of its 5-7 s (Zen 4 VM, round 3, stop 33); looked for likewise.
MEMORY_OPTION = "--bench-memory"
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


# One address-space layout for every gate-ready process: the kernel's address
# randomization (ASLR) off, where Linux lets a process ask (personality
# ADDR_NO_RANDOMIZE; a container's seccomp profile may refuse it, and then
# the layout stays random, as each benchmark records in `layout_fixed`).
# Measured on the Zen 4 VM of round 3 (stop 33), 8 processes each: the
# spread of numba_tuned's 500-row product (per-process log sd) was 12 %
# with ASLR and 0.8 % without, its forward pass 4.6 % and 1.5 % (which of
# two states it runs in follows where its data lie, through the process's
# whole allocation history: README, "Where the spread between processes
# comes from"). Processes forked from one server (bench.forkserver) share its layout: two servers of
# one tree gave 0.82 and 0.90, and an A/A of 17 blocks called that +9.6 %
# regressed. With the layout fixed, every process of both sides has the same.
ADDR_NO_RANDOMIZE = 0x0040000
_FIXED_LAYOUT = f"""
import ctypes, os, sys
try:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.personality(libc.personality(0xffffffff) | {ADDR_NO_RANDOMIZE:#x})
except (OSError, AttributeError):
    pass
os.execv(sys.argv[1], sys.argv[1:])
"""


def with_fixed_layout(cmd: list[str]) -> list[str]:
    """cmd, started with the address-space layout fixed (Linux; elsewhere as it is)."""
    if not sys.platform.startswith("linux"):
        return cmd
    return [sys.executable, "-S", "-c", _FIXED_LAYOUT, *cmd]


def layout_fixed() -> bool | None:
    """Whether this process runs with ASLR off; None where that cannot be read."""
    try:
        flags = Path("/proc/self/personality").read_text(encoding="ascii")
    except OSError:
        return None
    return bool(int(flags, 16) & ADDR_NO_RANDOMIZE)


def pytest_command(*args: str, gate_ready: bool, targets: tuple[str, ...] = (BENCHMARKS,)
                   ) -> list[str]:
    """python -m pytest over the benchmarks (or the given node ids), timed, with the
    gate-ready settings if asked (and then the layout fixed)."""
    # No hypothesis plugin: the benchmarks do not use it, and at exit it imports
    # hypothesis whole, which costs a benchmark process more than half a second.
    command = [sys.executable, "-m", "pytest", *targets, "-p", "no:cacheprovider",
               "-p", "no:hypothesispytest", "-q", "--benchmark-enable"]
    if gate_ready:
        command = with_fixed_layout(command + list(GATE_READY_ARGS))
    return command + list(args)
