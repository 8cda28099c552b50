"""Serial or parallel: which build of a kernel a call of a given size runs,
chosen by timing both on this machine, in this process.

Where a parallel call starts paying for itself depends on what waking the
thread pool costs here (microseconds with warm spinning workers, hundreds on
a virtual CPU that went idle) against how fast one core does the work; a
fixed threshold holds for one machine at most. So each size class (the
rows rounded down to a power of two, and the work per row) starts with
TRIALS calls of each build, alternating, timed on perf_counter; from then on
it runs the parallel build unless the serial one's median beats the
parallel one's by SERIAL_MARGIN. The first call of each build is left out
(it pays for compiling and for cold caches).

The margin is there because the two mistakes do not cost the same. On a
virtual machine whose other vCPU is busy elsewhere for a few seconds, a
parallel call runs at about the serial speed (measured on the Zen 5 VM,
500 rows: parallel 84-86 us against serial 68-72 us in such a spell, 37-51
us against 68-86 us outside it); a choice made in that spell held for the
whole process, so 3 of 30 processes ran their 500-row products serially,
up to 2x slower, and the benchmarks' spread between processes grew with
it. Choosing parallel in such a spell costs at most about SERIAL_MARGIN. Work so large that a
serial trial would cost more than a few milliseconds runs parallel without
trials, and with one thread there is nothing to choose.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from statistics import median

# Timed calls of each build per size class, after one untimed call each.
TRIALS = 9
# How much faster (median against median) the serial build must be to be chosen.
SERIAL_MARGIN = 1.25
# Multiply-adds from which the parallel build runs untried: a serial trial of
# that much work takes milliseconds on any core that has vector FMAs.
ALWAYS_PARALLEL_MACS = 64_000_000


class BuildChoice:
    """call(key, macs, threads, serial, parallel, *args): serial(*args) or
    parallel(*args), as the trials of `key` decided."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter, trials: int = TRIALS,
                 always_parallel_macs: int = ALWAYS_PARALLEL_MACS):
        self.clock, self.trials, self.always_parallel_macs = clock, trials, always_parallel_macs
        self._times: dict[tuple, tuple[list[float], list[float]]] = {}
        self.chosen: dict[tuple, str] = {}  # key -> "serial" or "parallel", once decided
        self.force: str | None = None  # "serial" or "parallel": every call runs it (tests)

    def settled(self, key: tuple, macs: int, threads: int) -> str | None:
        """"serial" or "parallel" where the call needs no trial, else None."""
        if self.force is not None:
            return self.force
        if threads <= 1:
            return "serial"
        if macs >= self.always_parallel_macs:
            return "parallel"
        return self.chosen.get(key)

    def call(self, key: tuple, macs: int, threads: int, serial: Callable, parallel: Callable,
             *args):
        settled = self.settled(key, macs, threads)
        if settled is not None:
            return (serial if settled == "serial" else parallel)(*args)
        times = self._times.setdefault(key, ([], []))
        # Alternate, the build with fewer calls so far first (serial on a tie).
        index = 0 if len(times[0]) <= len(times[1]) else 1
        start = self.clock()
        result = (serial, parallel)[index](*args)
        times[index].append(self.clock() - start)
        if min(map(len, times)) > self.trials:  # each build's first call left out
            serial_wins = median(times[0][1:]) * SERIAL_MARGIN <= median(times[1][1:])
            self.chosen[key] = "serial" if serial_wins else "parallel"
            self._times.pop(key, None)
        return result


def size_class(rows: int, macs_per_row: int, *more) -> tuple:
    """The key of a call on `rows` rows: rows rounded down to a power of two,
    the work per row, and whatever else tells calls apart (kernel, dtype)."""
    return rows.bit_length(), macs_per_row, *more
