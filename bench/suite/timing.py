"""Paired timing: each round times the reference, then the benchmarked call
(in gate-ready runs, alternative references of other kinds before them).

Machine-speed drift (another job on the box, frequency changes) hits both
halves of a pair alike, so the ratio sample / reference cancels most of it; the
regression gate compares those ratios. pytest-benchmark keeps the benchmarked
call's samples (stats.data with --benchmark-save-data); the reference's samples,
paired by index, go to extra_info (bench.runs.REFERENCE_DATA). Both halves are
timed on one clock: the benchmark's own timer (--benchmark-timer).
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence

import torch

from bench import runs

from .passes import first_share

# MATMUL_BENCH_SLOWDOWN="kernel=0.10[,other=0.05]": add that fraction of the
# call's own time to every timed call of the benchmarks of that kernel (gate
# study, tests of the gates). Never set in normal runs; runs record it.
SLOWDOWN_ENV = "MATMUL_BENCH_SLOWDOWN"

Clock = Callable[[], float]


def synchronizer(device: torch.device | str) -> Callable[[], None]:
    """What to call after a kernel so its work is finished when the clock stops.

    CUDA launches are asynchronous: without a synchronize the timer stops when
    the launch returns, not when the product is done.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def synchronized(fn: Callable[[], object], sync: Callable[[], None]) -> Callable[[], object]:
    def call():
        result = fn()
        sync()
        return result

    return call


def slowdowns(spec: str | None = None) -> dict[str, float]:
    """Parse MATMUL_BENCH_SLOWDOWN into {kernel: fraction}."""
    spec = os.environ.get(SLOWDOWN_ENV, "") if spec is None else spec
    result = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, fraction = item.partition("=")
        if not sep:
            raise ValueError(f"{SLOWDOWN_ENV}: expected kernel=fraction, got {item!r}")
        try:
            value = float(fraction)
        except ValueError:
            raise ValueError(f"{SLOWDOWN_ENV}: {item!r}: the fraction must be a number") from None
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{SLOWDOWN_ENV}: {item!r}: the fraction must be >= 0")
        result[name.strip()] = value
    return result


def median_time(fn: Callable[[], object], repeats: int, clock: Clock) -> float:
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return sorted(times)[len(times) // 2]


def spin(seconds: float) -> None:
    """Busy-wait (sleep is far too coarse for microseconds), on the cheap wall
    clock: a CPU-time read costs far more and would overshoot short waits."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def slowed(fn: Callable[[], object], fraction: float, clock: Clock) -> Callable[[], object]:
    """fn, made `fraction` slower by spinning for that share of its own median time."""
    extra = fraction * median_time(fn, 7, clock)

    def call():
        result = fn()
        spin(extra)
        return result

    return call


def plan_rounds(seconds_per_round: float, max_time: float, min_rounds: int,
                max_rounds: int = 2000) -> int:
    """Rounds that fill max_time, at least min_rounds."""
    wanted = math.ceil(max_time / max(seconds_per_round, 1e-9))
    return max(min_rounds, min(wanted, max_rounds))


class ClockFaultError(RuntimeError):
    """Clock faults left a benchmark too few valid rounds."""


def paired(benchmark, target: Callable[[], object], references: Sequence[Callable[[], object]], *,
           clock: Clock, max_time: float = 1.0, min_rounds: int = 5,
           warmup_rounds: int = 2, passes: int = 1
           ) -> tuple[object, list[list[float]] | None, int, int]:
    """Time target under pytest-benchmark, each round preceded by one timed call
    of each reference, in order: the last is the benchmark's own reference,
    timed right before target as always; those before it are alternatives
    (bench.suite.cases.alternative_references).

    `clock` must be the benchmark's own timer, so both halves of a pair are on
    one clock (time.process_time, with one thread, ignores the time a shared
    machine makes the process wait for a core). With `passes` > 1 only the
    first pass's share of the rounds is timed here (bench.suite.passes; the
    rest by more_rounds). Returns (target's result, each reference's seconds
    per timed round, rounds dropped for clock faults, rounds per pass); with
    timing off it calls target once and returns no reference samples.
    """
    if not benchmark.enabled:
        return benchmark.pedantic(target), None, 0, 0  # untimed: one plain call
    reference_times: list[list[float]] = [[] for _ in references]

    def time_references():
        _time_each(references, reference_times, clock)

    per_round = median_time(target, 3, clock) + sum(median_time(r, 3, clock) for r in references)
    rounds = first_share(plan_rounds(per_round, max_time, min_rounds), passes)
    result = benchmark.pedantic(target, setup=time_references, rounds=rounds,
                                warmup_rounds=warmup_rounds)
    # setup also ran before the warmup rounds; keep the pairs of timed rounds.
    kept, dropped = drop_clock_faults(benchmark.stats.stats,
                                      [times[-rounds:] for times in reference_times])
    return result, kept, dropped, rounds


def _time_each(references: Sequence[Callable[[], object]], times: list[list[float]],
               clock: Clock) -> None:
    for reference, seconds in zip(references, times, strict=True):
        start = clock()
        reference()
        seconds.append(clock() - start)


def more_rounds(stats, target: Callable[[], object], references: Sequence[Callable[[], object]],
                reference_times: list[list[float]], rounds: int, clock: Clock
                ) -> tuple[list[list[float]], int]:
    """One more pass: an untimed round, then `rounds` rounds timed as paired()
    times them, appended to stats.data and reference_times (kept aligned).
    Returns drop_clock_faults' (reference times kept, rounds dropped)."""
    for reference in references:
        reference()
    target()
    for _ in range(rounds):
        _time_each(references, reference_times, clock)
        start = clock()
        target()
        stats.data.append(clock() - start)
    _forget_statistics(stats)
    return drop_clock_faults(stats, reference_times)


def _forget_statistics(stats) -> None:
    for name in [n for n in vars(stats) if n != "data"]:  # statistics cached on first use
        del stats.__dict__[name]


def drop_clock_faults(stats, reference_times: list[list[float]]
                      ) -> tuple[list[list[float]], int]:
    """Drop every round in which the target or any reference time is a clock
    fault (<= 0 or not finite: e.g. a CPU-time read that did not advance across
    the call, whose time then lands in the next round), all of the round
    together, from pytest-benchmark's Stats in place; returns (each reference's
    times kept, the number dropped). Raises ClockFaultError when too few rounds
    are left."""
    data = stats.data
    for times in reference_times:
        if len(data) != len(times):
            raise ValueError(f"{len(data)} timed rounds but {len(times)} reference times")
    keep = runs.valid_rounds(data, *reference_times).tolist()
    dropped = keep.count(False)
    if not dropped:
        return reference_times, 0
    if len(keep) - dropped < runs.MIN_VALID_ROUNDS:
        raise ClockFaultError(runs.too_few_rounds("benchmark", len(keep) - dropped, len(keep)))
    data[:] = [t for t, ok in zip(data, keep, strict=True) if ok]
    _forget_statistics(stats)
    return [[r for r, ok in zip(times, keep, strict=True) if ok] for times in reference_times], dropped
