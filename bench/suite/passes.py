"""Each benchmark's rounds spread over the whole run, in passes.

Within one process, the ratio of a benchmark's time to its reference's drifts
from one half second to the next (what else the machine runs, its caches and
clocks) by about as much as it differs between processes. A benchmark timed
in one burst samples one moment of that drift, and its process's median
carries it: that is the spread between processes the gate has to measure
around. With `--bench-passes N`, a test times 1/N of its rounds; the other
passes run after the last test, each taking every timed benchmark in turn
(collection order), so each median averages N moments spread over the run.

A pass starts each benchmark with one untimed round (its caches were left to
the benchmarks before it), then times its rounds in pairs as the test did,
on the same clock (bench.suite.timing.more_rounds). After every pass the
benchmark's record is brought up to date, so an interrupted pass loses
nothing already timed.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


def parse(value: str) -> int:
    """--bench-passes: a whole number >= 1 (argparse type)."""
    try:
        passes = int(value)
    except ValueError:
        raise ValueError(f"--bench-passes: expected a whole number >= 1, got {value!r}") from None
    if passes < 1:
        raise ValueError(f"--bench-passes: expected a whole number >= 1, got {passes}")
    return passes


def first_share(rounds: int, passes: int) -> int:
    """Rounds per pass when `rounds` are spread over `passes` passes."""
    return max(1, math.ceil(rounds / passes))


@dataclass
class Pending:
    """A timed benchmark's later passes: time(n) times n more rounds in pairs,
    record() brings its saved record up to date."""

    rounds: int                  # per pass
    time: Callable[[int], None]
    record: Callable[[], None]


@dataclass
class Passes:
    """The session's benchmarks still owed passes, and how many passes in all."""

    passes: int = 1
    pending: list[Pending] = field(default_factory=list)

    def add(self, item: Pending) -> None:
        if self.passes > 1:
            self.pending.append(item)

    def run(self) -> int:
        """Passes 2..N over every pending benchmark; returns how many passes
        were complete. An error stops them: every benchmark keeps the rounds
        recorded so far."""
        done = 1
        try:
            for _ in range(2, self.passes + 1):
                for item in self.pending:
                    item.time(item.rounds)
                    item.record()
                done += 1
        finally:
            self.pending.clear()
        return done
