"""Rounds where they pay: each benchmark's time per process, chosen from the
spread that the first blocks of a comparison measured.

A process gives the gate one number per benchmark: the log of its median
normalized sample (bench.gate.decide.process_value). That number varies for
two reasons: the rounds within the process (the median of n rounds has a
variance falling as 1/n) and the process itself (it does not fall with n).
On the 2-core machine of README the second dominates: rounds beyond a few
hundred buy almost nothing. So once BUDGET_AFTER blocks are in, each
benchmark gets the time that keeps its within-process variance at SHARE of
its between-process variance (or the default time, when rounds are what
limit it), and never less than MIN_ROUNDS rounds. Both sides of every later
block run with the same times, so the comparison stays fair; the gate's
decision uses the spread the processes then show, whatever it is.

The within-process variance of a median of n rounds is taken as
(1.2533 * sigma)^2 / n, with sigma the rounds' spread estimated by 1.4826 x
their median absolute deviation (in logs): the normal approximation of a
median's variance, robust to a round that went wrong.
"""
from __future__ import annotations

import math

import numpy as np

from bench import runs
from bench.policy import ALPHA

from . import calm, decide
from .compare import ProcessValues, choose
from .decide import process_value
from .statistics import DEFAULT, STATISTICS

# Blocks measured at the default time before the times are chosen.
BUDGET_AFTER = 3
# The within-process variance aimed at, as a share of the between-process
# variance: at 0.1 the process values' spread grows by 5 % at most.
SHARE = 0.1
# The fewest rounds a process times of a benchmark (pytest-benchmark's
# min_rounds applies too).
MIN_ROUNDS = 20


def _within_and_value(normalized: np.ndarray) -> tuple[float, float]:
    """(variance of a process's value from the rounds it judges, the value)."""
    logs = np.log(normalized)
    sigma = 1.4826 * float(np.median(np.abs(logs - np.median(logs))))
    return (1.2533 * sigma) ** 2 / len(logs), process_value(normalized)


def budgets(base: list[runs.Run], candidate: list[runs.Run], default: float) -> dict[str, float]:
    """Seconds per process for each benchmark that both sides measured at least
    twice, at most `default`."""
    chosen = {}
    for key, first in base[0].benchmarks.items():
        measured = [[r.benchmarks[key] for r in side if key in r.benchmarks]
                    for side in (base, candidate)]
        if min(map(len, measured)) < 2:
            continue
        # As the gate will compare them (at its defaults; unpaired is near enough here).
        values = ProcessValues([b for side in measured for b in side])
        mode = choose("auto", *measured, None, STATISTICS[DEFAULT],
                      decide.tail(ALPHA, len(base[0].benchmarks)), values)
        # The rounds the mode judges each process by (a calm mode: its calm ones, or none).
        judged = [[calm.samples(b, mode, values.levels) for b in side] for side in measured]
        sides = [[_within_and_value(kept) for kept in side if kept is not None] for side in judged]
        if min(map(len, sides)) < 2:
            chosen[key] = default  # too few calm processes to tell: keep every round
            continue
        within = float(np.mean([w for side in sides for w, _ in side]))
        # Each side around its own mean: a real change between them is not spread.
        spread = [v - np.mean([v for _, v in side]) for side in sides for _, v in side]
        total = float(np.sum(np.square(spread)) / (len(spread) - 2))
        between = total - within
        rounds = len(first.samples)
        seconds_per_round = default / max(rounds, 1)
        # A calm mode judges only its calm rounds: the floor is in those.
        kept = float(np.mean([(0 if r is None else len(r)) / len(b.samples)
                              for bs, js in zip(measured, judged) for b, r in zip(bs, js)]))
        floor = min(default, MIN_ROUNDS / max(kept, 1e-9) * seconds_per_round)
        if between <= 0 or not math.isfinite(between):
            chosen[key] = default  # the rounds limit it: keep them all
            continue
        chosen[key] = float(min(default, max(floor, default * within / (SHARE * between))))
    return chosen
