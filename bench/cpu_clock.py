"""pytest plugin: time both halves of each pair on process CPU time.

    python -m pytest -p bench.cpu_clock --benchmark-timer=time.process_time ...

--benchmark-timer switches pytest-benchmark's clock for the benchmarked call,
but bench.timing times the reference with time.perf_counter. On a shared
machine wall-clock time counts the time the process waits for a core, which
swings with other people's load; CPU time does not. This plugin points
bench.timing's clock at the same CPU clock, so both halves of a pair use one
clock (bench.study --clock cpu, the CI benchmark job). Only meaningful with one
thread (OMP_NUM_THREADS=1, NUMBA_NUM_THREADS=1): process CPU time sums over
threads. A process_time call costs ~1 µs (a system call), which is one reason
calls under 10 µs get the gate's wider threshold.
"""
from __future__ import annotations

import time
import types

from bench import timing

_wall = time.perf_counter


def _spin(seconds: float) -> None:
    """The injected slowdown's busy-wait, still on the cheap wall clock: a
    process_time call per turn (~1 µs) would overshoot short waits."""
    end = _wall() + seconds
    while _wall() < end:
        pass


timing.time = types.SimpleNamespace(perf_counter=time.process_time)
timing.spin = _spin
