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

A calm mode keeps, in every process, only the rounds whose probe ran within
MARGIN of the fastest that probe ran in the comparison (its LEVEL quantile
over every round of both sides): the rounds of a core running at its own
speed. The probe is the same code on both sides, so which rounds are kept
does not depend on the change being judged. A process with fewer than
MIN_ROUNDS calm rounds gives no value in that mode.

Two readings of the probe, each a calm mode of every plain one (SUFFIXES):
- FIRST, the probe's first call of the round, right after the previous
  round's benchmarked call: it also reads a state that short calls pay
  for right after other code, whatever a guest can see of its cause (on one
  thread as on two: no thread pool to wake; 3x slower after 2 ms of Python).
- AGAIN, the same call timed again right after: it reads the core's
  throughput alone. On the Zen 4 VM of stop 39 (one process on one thread,
  as the gate's, about 6 000 rounds a condition, the host busy), the first
  reading was within MARGIN in 15 % of the rounds right after numba_fused's
  500-row forward pass, 4 % after torch's pass and 0 % after 2 ms of Python,
  the second in 50 %, 50 % and 48 %; 11 of 41 windows of 150 rounds had too
  few calm rounds by the first reading, 7 by the second. For 5-row calls the
  first reading dated the kernel's state better (the ratio to its reference
  over calm rounds moved 2.7 % between windows of 300 rounds by the first,
  4.6 % by the second): such a call pays what that reading reads.
The gate's auto normalization weighs the calm modes against the plain ones
by their spread and the processes they keep (bench.gate.compare.choose): on
a quiet machine the plain mode stays.
"""
from __future__ import annotations

import math

import numpy as np

from bench import runs
from bench.runs import Benchmark

FIRST = "fma"         # bench.suite.cases.FMA: the probe's first call of a round
AGAIN = "fma_again"   # bench.suite.cases.FMA_AGAIN: the same call timed again right after
# Each probe's suffix on the calm modes that judge by it, in the order modes are offered.
SUFFIXES = {FIRST: "+calm", AGAIN: "+calm_again"}
# A reading of the core's state only: never offered as a reference to divide by.
PROBE_ONLY = frozenset({AGAIN})
# Sharing a core halves its FMA throughput at worst; the probe's own spread on
# a calm core is 3-5 %. 15 % over its fastest lies between the two.
MARGIN = math.log(1.15)
LEVEL = 0.02  # the quantile taken as the probe's fastest: robust to a lucky round
MIN_ROUNDS = 5


def calm_mode(mode: str, probe: str = FIRST) -> str:
    return mode + SUFFIXES[probe]


def split(mode: str) -> tuple[str, str | None]:
    """(the plain mode, the probe whose calm rounds alone count; None for every round)."""
    # The longest suffix first: they share a stem.
    for probe, suffix in sorted(SUFFIXES.items(), key=lambda item: -len(item[1])):
        if mode.endswith(suffix):
            return mode[:-len(suffix)], probe
    return mode, None


def timed_by_all(benches: list[Benchmark], probe: str = FIRST) -> bool:
    """Whether every one of these processes timed the probe."""
    return bool(benches) and all(probe in b.alternatives for b in benches)


def probes(benches: list[Benchmark]) -> list[str]:
    """The probes every one of these processes timed, in SUFFIXES' order."""
    return [p for p in SUFFIXES if timed_by_all(benches, p)]


def levels(benches: list[Benchmark]) -> dict[str, float]:
    """The log of each probe's fastest time over every round of these
    processes, for the probes every one of them timed."""
    return {probe: float(np.quantile(np.log(np.concatenate([b.alternatives[probe]
                                                             for b in benches])), LEVEL))
            for probe in probes(benches)}


def rounds(bench: Benchmark, probe: str, found: dict[str, float]) -> np.ndarray | None:
    """Which of the process's rounds were calm by `probe`; None when too few
    were (or the probe has no level)."""
    if probe not in found:
        return None
    kept = np.log(bench.alternatives[probe]) - found[probe] <= MARGIN
    return kept if int(kept.sum()) >= MIN_ROUNDS else None


def samples(bench: Benchmark, mode: str, found: dict[str, float]) -> np.ndarray | None:
    """The normalized samples a mode judges this process by: every round for a
    plain mode; for a calm one its calm rounds, None when too few (or no
    level). `found`: levels() of the comparison's processes."""
    plain, probe = split(mode)
    if probe is None:
        return bench.normalized(plain)
    kept = rounds(bench, probe, found)
    return None if kept is None else bench.normalized(plain)[kept]


def label(mode: str) -> str:
    """What a table shows beside a mode's ratio: ", calm" and the probe if not the first."""
    probe = split(mode)[1]
    return "" if probe is None else ", calm" + ("" if probe == FIRST else f" by {probe}")


def meaning(mode: str) -> str:
    plain, probe = split(mode)
    text = runs.normalization_meaning(plain)
    if probe is not None:
        which = ("" if probe == FIRST else
                 ", timed a second time right after the first,")
        text += (f", over the rounds whose {FIRST} probe{which} ran within "
                 f"{math.expm1(MARGIN) * 100:.0f} % of its fastest (calm rounds)")
    return text
