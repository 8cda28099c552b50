"""The gate's sequential rule: look at the blocks as they arrive, stop when every
benchmark is decided, with the false-alarm guarantee of a single look.

**Looks.** The gate judges at a schedule of block counts n_1 < ... < n_K
(bench.gate.blocks: 6, 8, 12, 17, 24 by default), spaced geometrically: each
look has about 1.4 times the blocks of the one before, so each narrows the
interval by a like factor (about 2^(1/4)). At the first look, 6 blocks, the
20 % trimmed mean already sets one process of each end aside, so one far
process cannot decide a benchmark; the last, 24, is the budget the gate had
before (16 blocks and up to 8 confirming ones). Five looks: more would split
alpha thinner for little saving of blocks, fewer would stop later.

**Decided.** At look j a benchmark is decided when its interval lies wholly
above 1 + threshold (regressed), wholly below 1 - threshold (improved), or
wholly within ±max(detect, threshold) (no change as large as the gate
promises to catch: bench.gate.decide.decided). Only the undecided ones get
the next blocks (their node ids, as -k); the run stops when none is left or
after the last look. Each benchmark keeps the verdict, interval and alpha of
the look that decided it; at the last look criterion.rs's rule decides the
rest (bench.gate.decide.verdict), as a single look would.

**Alpha.** Look j spends alpha_j = alpha * n_j / (n_1 + ... + n_K) of the
family-wise alpha; within the look it is split over the G benchmarks judged
and both tails (Bonferroni), so each interval's tail is alpha_j / (2 G).
Spending in proportion to the blocks gives the last look the largest share,
where the benchmarks still open are the hard ones (a spread near the
detection target) and where power is decided; an early look, with few
degrees of freedom, decides only clear cases, and more alpha would buy it
little. (In simulations like tests/test_sequential.py's, equal shares lost
power for about the same blocks on average, and shares growing as n_j
squared added blocks for little power.)

**The guarantee.** Take a benchmark whose true ratio r lies within
±threshold. It is reported regressed only if, at the look j that decided it,
its interval lay wholly above 1 + threshold >= r: that look's interval
missed r on its upper side. For each fixed look the interval computed from
its first n_j blocks misses r above with probability at most alpha_j / (2 G),
whether or not the run reached that look (imagine the blocks drawn on to the
last look; stopping only picks which look is reported). So, by the union
bound over the looks and the G benchmarks, whatever the correlation between
looks and between benchmarks,

    P(any benchmark within ±threshold reported regressed at any look)
        <= sum_g sum_j alpha_j / (2 G) = alpha / 2 <= alpha,

and the same for improved; with both, P(any interval at any look misses its
true ratio) <= alpha, as for a single look. The bound is as exact as each
interval's coverage: Student's t on a trimmed mean of per-block log ratios,
approximate under heavy tails, which is why tests/test_sequential.py checks
it by simulation with t-distributed processes and outliers, and the gate
study on recorded ones. A true change of +detect or more is decided "no
change" at some look with probability at most alpha / (2 G) likewise (the
interval would have to lie below 1 + detect), so the no-change stop costs
power almost nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from . import decide
from .blocks import LOOKS
from .compare import TIME, Row
from .decide import Outcome


@dataclass(frozen=True)
class Look:
    number: int    # 1 for the first look
    blocks: int    # the blocks judged at this look
    alpha: float   # the share of the family-wise alpha it spends


def schedule(min_blocks: int, max_blocks: int, alpha: float, looks: int = LOOKS
             ) -> tuple[Look, ...]:
    """The looks from min_blocks to max_blocks, geometrically spaced (fewer when
    the rounded counts coincide), each spending alpha in proportion to its blocks.
    One look (min_blocks == max_blocks) spends all of alpha: a fixed-size gate."""
    if min_blocks < 2:
        raise ValueError(f"--min-processes must be at least 2: the spread between processes "
                         f"is measured from them, got {min_blocks}")
    if max_blocks < min_blocks:
        raise ValueError(f"--max-processes ({max_blocks}) must be at least --min-processes "
                         f"({min_blocks})")
    steps = max(1, looks - 1)
    counts = sorted({round(min_blocks * (max_blocks / min_blocks) ** (i / steps))
                     for i in range(steps + 1)})
    total = sum(counts)
    return tuple(Look(i + 1, n, alpha * n / total) for i, n in enumerate(counts))


@dataclass(frozen=True)
class Result:
    rows: list[Row]   # every row; time rows as the look that decided them left them
    stopped: Look     # the last look taken


def run(looks: tuple[Look, ...], judge: Callable[[Look], list[Row]],
        add_blocks: Callable[[list[str], int], int], detect: float,
        estimator=None) -> Result:
    """Judge at each look (judge(look): the rows of the blocks so far, intervals at
    look.alpha); the undecided time benchmarks get add_blocks(keys, n) more blocks
    (it returns how many it added; none ends the run at this look) until none is
    left or the last look is taken. Other rows (memory, new, removed) are as the
    last judging that gave them left them. With the gate's estimator, each
    decided time row also gets last_look_mde (see _at_last_look)."""
    latest: dict[tuple[str, str], Row] = {}  # by benchmark and metric, first seen first
    settled: dict[str, Row] = {}
    for look in looks:
        rows = judge(look)
        latest.update(((r.key, r.metric), r) for r in rows)
        last = look is looks[-1]
        undecided = []
        for row in rows:
            if row.metric != TIME or row.estimate is None or row.key in settled:
                continue
            outcome = decide.decided(row.estimate, row.threshold, detect)
            if outcome is None and not last:
                undecided.append(row)
            elif outcome is Outcome.NO_CHANGE:  # a change of +detect is excluded
                settled[row.key] = replace(row, outcome=outcome, look=look.number,
                                           needs_blocks=0)
            else:
                settled[row.key] = _final(row, look)
        if undecided and not last:
            following = looks[look.number]
            if add_blocks([r.key for r in undecided], following.blocks - look.blocks):
                continue
            settled.update((r.key, _final(r, look)) for r in undecided)
        break
    if estimator is not None:
        settled = _at_last_look(settled, looks[-1], estimator)
    return Result([settled.get(key, row) if metric == TIME else row
                   for (key, metric), row in latest.items()], look)


def _at_last_look(settled: dict[str, Row], last: Look, estimator) -> dict[str, Row]:
    """Each measured row with the MDE the rule has for it: at the last look's
    blocks and alpha. A benchmark decided "no change" early has an interval
    that leaves out +detect; had its true change been +detect it would have
    gone on towards the last look, so the MDE there is the one that counts.
    The family is the benchmarks judged, as in compare (each has one time row)."""
    tail = decide.tail(last.alpha, len(settled))
    return {key: replace(row, last_look_mde=estimator.mde_at(row.estimate, last.blocks, tail,
                                                             row.threshold))
            if row.estimate is not None and row.estimate.measured else row
            for key, row in settled.items()}


def _final(row: Row, look: Look) -> Row:
    """The row as this look leaves it, by criterion.rs's rule."""
    return replace(row, outcome=decide.verdict(row.estimate, row.threshold), look=look.number)
