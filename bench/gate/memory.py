"""Memory verdicts: what one call of each benchmark allocates, base against candidate.

A call's peak is counted, not timed (bench.suite.memory): the same code on the
same inputs allocates the same blocks in every process, so memory needs no
spread measured between processes and is decided from one process a side.
It is not quite constant: the order in which Python's allocator hands out
its free blocks, or a cache filled on a first touch, moves a peak a little.
The rule allows for that, and for nothing more:

    regressed  when every candidate process's peak exceeds every base
               process's peak by more than TOLERANCE of it *and* by more
               than FLOOR bytes;
    improved   the same the other way round;
    no change  otherwise.

Both come from A/A runs (README, "Memory", has the figures): FLOOR lies far
above the largest difference in bytes between one-thread processes of the
same code, and above what a parallel kernel's per-thread buffers add with
two threads;
TOLERANCE, which decides only for peaks above FLOOR / TOLERANCE, far above
the largest relative difference among such peaks; and a copy of the smallest
operand benchmarked (x_train[:5], 15.7 KB) clears both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.runs import Benchmark

from .decide import Outcome

TOLERANCE = 0.01   # relative: a peak may move by 1 % of itself
FLOOR = 8_000      # bytes: and by 8 KB, however small the peak

# The metrics a memory row can be about: a Memory field each.
HOST, DEVICE = "memory", "device memory"
FIELDS = {HOST: "peak_bytes", DEVICE: "device_peak_bytes"}


@dataclass(frozen=True)
class MemoryChange:
    """The peaks of one benchmark on each side, one per process."""

    base: tuple[int, ...]
    candidate: tuple[int, ...]

    @property
    def ratio(self) -> float:
        """Candidate over base of the sides' median peaks."""
        return float(np.median(self.candidate)) / max(float(np.median(self.base)), 1.0)

    @property
    def growth(self) -> float:
        """Candidate minus base of the sides' median peaks, in bytes."""
        return float(np.median(self.candidate) - np.median(self.base))

    @property
    def processes(self) -> tuple[int, int]:
        return len(self.base), len(self.candidate)


def peaks(benchmarks: list[Benchmark], metric: str) -> tuple[int, ...] | None:
    """The peak of this metric of each process that measured memory (bench ab
    measures it in its first blocks only), or None when a process that did
    lacks this metric, or none did."""
    measured = [b.memory for b in benchmarks if b.memory is not None]
    values = [getattr(m, FIELDS[metric]) for m in measured]
    if not values or any(v is None for v in values):
        return None
    return tuple(values)


def metrics(benchmarks: list[Benchmark]) -> list[str]:
    """The memory metrics any of these benchmarks recorded."""
    recorded = [b.memory for b in benchmarks if b.memory is not None]
    return [m for m in (HOST, DEVICE) if any(getattr(r, FIELDS[m]) is not None for r in recorded)]


def verdict(change: MemoryChange, tolerance: float = TOLERANCE, floor: int = FLOOR) -> Outcome:
    """The rule of this module's docstring."""
    lowest_base, highest_base = min(change.base), max(change.base)
    lowest_cand, highest_cand = min(change.candidate), max(change.candidate)
    if lowest_cand - highest_base > max(floor, tolerance * highest_base):
        return Outcome.REGRESSED
    if lowest_base - highest_cand > max(floor, tolerance * highest_cand):
        return Outcome.IMPROVED
    return Outcome.NO_CHANGE

