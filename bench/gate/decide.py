"""The gate's decision, from several processes per side to a verdict per benchmark.

Between processes the median a benchmark reaches moves (address layout, cache
and frequency state, what the neighbours do): one process per side cannot
show that variance, and no constant measured on one machine stands for it on
another. So the variance is measured where it is:

- per process, one number: m = log median(normalized samples) (bench.runs);
- per block, one base and one candidate process run back to back in random
  order: d = m_candidate - m_base; the block cancels slow drift of the machine;
- over N blocks, a location of the log ratios with its Student t interval
  from the blocks' own spread (Welch's two-sample form when the sides were
  not run in blocks). Which location is one choice, `Settings.statistic`
  (bench.gate.statistics): by default the 20 % trimmed mean, which sets aside
  the few processes that run far from the rest (a page-size or placement
  accident of one process) instead of letting them widen every interval.

The interval's tails are alpha / G each, G the number of benchmarks judged
(Bonferroni): with probability >= 1 - alpha no interval misses its true ratio,
so a benchmark whose true change lies within ±threshold is reported changed in
at most an alpha share of comparisons. The verdict is criterion.rs's rule:
"regressed" only when the whole interval lies above 1 + threshold, "improved"
only when it lies below 1 - threshold. `python -m bench ab` looks several
times as blocks arrive, splitting alpha over the looks as well
(bench.gate.sequential); `decided` says when a look settles a benchmark.

The minimum detectable effect (MDE) says what the measurement can catch: the
smallest true slowdown reported as regressed with probability POWER, from the
measured spread and the number of blocks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

from bench.policy import POWER


class Outcome(str, Enum):
    """Every verdict the gate gives, in the order its summary counts them."""

    REGRESSED = "regressed"
    IMPROVED = "improved"
    NO_CHANGE = "no change"
    UNDECIDED = "undecided"        # too few processes to measure their spread
    NEW = "new"
    REMOVED = "removed"
    INCOMPARABLE = "incomparable"  # e.g. timed against a different reference

    def __str__(self) -> str:
        return self.value


JUDGED = (Outcome.REGRESSED, Outcome.IMPROVED, Outcome.NO_CHANGE)


@dataclass(frozen=True)
class Estimate:
    """ratio = candidate / base of the per-process medians, with its interval."""

    ratio: float
    low: float | None        # None: the spread between processes is unmeasured
    high: float | None
    processes: tuple[int, int]  # (base, candidate) processes used
    paired: bool             # blocks (paired differences) or two independent samples
    spread: float | None     # standard error of the log ratio
    df: float | None         # its degrees of freedom
    mde: float | None        # smallest slowdown caught with probability POWER
    # The statistic's dispersion of the block differences (paired) or of each
    # side (unpaired): what more blocks would be measured at.
    dispersions: tuple[float, ...] = ()

    @property
    def measured(self) -> bool:
        return self.low is not None

    @classmethod
    def unmeasured(cls, centre: float, processes: tuple[int, int], paired: bool) -> Estimate:
        """A ratio without an interval: too few processes to measure their spread."""
        return cls(math.exp(centre), None, None, processes, paired, None, None, None)


def process_value(normalized: np.ndarray) -> float:
    """One process's number: the log of its median normalized sample."""
    return math.log(float(np.median(normalized)))


def t_quantile(df: float, p: float) -> float:
    # scipy.special, not scipy.stats (slow to load); here, so --help needs no extra
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


def mde(spread: float, df: float, tail: float, threshold: float, power: float = POWER) -> float:
    """Smallest true slowdown whose interval clears 1 + threshold with probability `power`.

    The interval clears it when (mean - log(1 + threshold)) / spread exceeds the
    t quantile; for a true effect that statistic follows the noncentral t, whose
    noncentrality puts `power` of it above the quantile.
    """
    from scipy.special import nctdtrinc

    noncentrality = float(nctdtrinc(df, 1 - power, t_quantile(df, 1 - tail)))
    exponent = noncentrality * spread
    if not exponent < MAX_EXPONENT:  # with next to no degrees of freedom nothing is caught
        return math.inf
    return (1 + threshold) * math.exp(exponent) - 1


MAX_EXPONENT = math.log(1e300)


def tail(alpha: float, benchmarks: int) -> float:
    """Each tail of every interval: alpha over both tails and the benchmarks judged."""
    return alpha / 2 / max(1, benchmarks)


def verdict(estimate: Estimate, threshold: float) -> Outcome:
    """criterion.rs's rule: a change counts only when the whole interval is
    beyond the threshold; an unmeasured spread decides nothing."""
    if not estimate.measured:
        return Outcome.UNDECIDED
    if estimate.low > 1 + threshold:
        return Outcome.REGRESSED
    if estimate.high < 1 - threshold:
        return Outcome.IMPROVED
    return Outcome.NO_CHANGE


def decided(estimate: Estimate, threshold: float, detect: float) -> Outcome | None:
    """A look's verdict when it settles the benchmark, None while more blocks could
    still change it: regressed or improved by criterion.rs's rule, or no change
    when the interval lies within ±max(detect, threshold), excluding a change as
    large as the gate promises to catch."""
    if not estimate.measured:
        return None
    outcome = verdict(estimate, threshold)
    band = max(detect, threshold)
    if outcome is not Outcome.NO_CHANGE or within(estimate, band):
        return outcome
    return None


def within(estimate: Estimate, band: float) -> bool:
    """Whether the whole interval lies within ±band."""
    return estimate.measured and 1 - band < estimate.low and estimate.high < 1 + band
