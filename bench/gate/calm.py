"""Calm rounds: the rounds a process timed while its core was not shared.

On the 2-core AMD EPYC Zen 4 VM of round 3 (stop 38) the spread between
processes came from the host, not from the processes: for seconds at a time
the core is shared (another tenant's thread on it, as far as a guest can
tell), and then the FMA microkernel that every gate-ready round times
(bench.suite.cases: FMA) runs 1.2-2.5x slower, 5-row benchmarks 1.7-2.35x
and 500-row ones 1.1-1.5x. Over one A/A run, 62 % of the rounds were in
that state, and a process spent from 6 % to all of its rounds of a
benchmark there. Each benchmark's ratio to its reference differs between the
two states, so the share of shared rounds, which is chance, moved each
process's median: that is most of the spread the gate had to beat there.

A calm mode keeps, in every process, only the rounds whose FMA probe ran
within MARGIN of the fastest the probe ran in the comparison (its LEVEL
quantile over every round of both sides): the rounds of a core running at
its own speed. The probe is the same code on both sides, so which rounds are
kept does not depend on the change being judged. A process with fewer than
MIN_ROUNDS calm rounds gives no value in that mode. The gate's auto
normalization weighs a calm mode against the plain ones by its spread and
the processes it keeps (bench.gate.compare.choose): on a quiet machine, or
for a call too long for a 10 us probe before it to date, the plain mode
stays.
"""
from __future__ import annotations

import math

import numpy as np

from bench import runs
from bench.runs import Benchmark

SUFFIX = "+calm"
PROBE = "fma"  # bench.suite.cases.FMA: the alternative reference that reads the core's state
# Sharing a core halves its FMA throughput at worst; the probe's own spread on
# a calm core is 3-5 %. 15 % over its fastest lies between the two.
MARGIN = math.log(1.15)
LEVEL = 0.02  # the quantile taken as the probe's fastest: robust to a lucky round
MIN_ROUNDS = 5


def calm_mode(mode: str) -> str:
    return mode + SUFFIX


def split(mode: str) -> tuple[str, bool]:
    """(the plain mode, whether only calm rounds count)."""
    if mode.endswith(SUFFIX):
        return mode[:-len(SUFFIX)], True
    return mode, False


def timed_by_all(benches: list[Benchmark]) -> bool:
    """Whether every one of these processes timed the probe."""
    return bool(benches) and all(PROBE in b.alternatives for b in benches)


def level(benches: list[Benchmark]) -> float | None:
    """The log of the probe's fastest time over every round of these processes;
    None unless every one of them timed the probe."""
    if not timed_by_all(benches):
        return None
    return float(np.quantile(np.log(np.concatenate([b.alternatives[PROBE] for b in benches])),
                             LEVEL))


def rounds(bench: Benchmark, fastest: float | None) -> np.ndarray | None:
    """Which of the process's rounds were calm; None when too few were (or no level)."""
    if fastest is None:
        return None
    kept = np.log(bench.alternatives[PROBE]) - fastest <= MARGIN
    return kept if int(kept.sum()) >= MIN_ROUNDS else None


def samples(bench: Benchmark, mode: str, fastest: float | None) -> np.ndarray | None:
    """The normalized samples a mode judges this process by: every round for a
    plain mode; for a calm one the calm rounds, None when too few (or no level)."""
    plain, calm = split(mode)
    if not calm:
        return bench.normalized(plain)
    kept = rounds(bench, fastest)
    return None if kept is None else bench.normalized(plain)[kept]


def meaning(mode: str) -> str:
    plain, calm = split(mode)
    text = runs.normalization_meaning(plain)
    if calm:
        text += (f", over the rounds whose {PROBE} probe ran within "
                 f"{math.expm1(MARGIN) * 100:.0f} % of its fastest (calm rounds)")
    return text
