"""The gate's decision, from several processes per side to a verdict per benchmark.

Between processes the median a benchmark reaches moves (address layout, cache
and frequency state, what the neighbours do): one process per side cannot
show that variance, and no constant measured on one machine stands for it on
another. So the variance is measured where it is:

- per process, one number: m = log median(normalized samples) (bench.runs);
- per block, one base and one candidate process run back to back in random
  order: d = m_candidate - m_base; the block cancels slow drift of the machine;
- over N blocks, the 20 % trimmed mean log ratio with its Student t interval
  from the blocks' own (winsorized) spread (Tukey and McLaughlin; Yuen's
  two-sample form when the sides were not run in blocks). Trimming sets aside
  the few processes that run far from the rest (a page-size or placement
  accident of one process), which would otherwise widen every interval.

The interval's tails are alpha / G each, G the number of benchmarks judged
(Bonferroni): with probability >= 1 - alpha no interval misses its true ratio,
so a benchmark whose true change lies within ±threshold is reported changed in
at most an alpha share of comparisons. The verdict is criterion.rs's rule:
"regressed" only when the whole interval lies above 1 + threshold, "improved"
only when it lies below 1 - threshold.

The minimum detectable effect (MDE) says what the measurement can catch: the
smallest true slowdown reported as regressed with probability POWER, from the
measured spread and the number of blocks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
# Student t quantiles and the noncentral t's noncentrality, without loading scipy.stats.
from scipy.special import nctdtrinc, stdtrit

POWER = 0.95
# Share of blocks trimmed from each end (none below five blocks).
TRIM = 0.2


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

    @property
    def measured(self) -> bool:
        return self.low is not None


def process_value(normalized: np.ndarray) -> float:
    """One process's number: the log of its median normalized sample."""
    return math.log(float(np.median(normalized)))


def t_quantile(df: float, p: float) -> float:
    return float(stdtrit(df, p))


def mde(spread: float, df: float, tail: float, threshold: float, power: float = POWER) -> float:
    """Smallest true slowdown whose interval clears 1 + threshold with probability `power`.

    The interval clears it when (mean - log(1 + threshold)) / spread exceeds the
    t quantile; for a true effect that statistic follows the noncentral t, whose
    noncentrality puts `power` of it above the quantile.
    """
    noncentrality = float(nctdtrinc(df, 1 - power, t_quantile(df, 1 - tail)))
    return (1 + threshold) * math.exp(noncentrality * spread) - 1


def kept(n: int) -> int:
    """How many of n values the trimmed mean keeps."""
    return n - 2 * (int(TRIM * n) if n >= 5 else 0)


def trimmed(values: np.ndarray) -> tuple[float, float, int]:
    """(trimmed mean, squared standard error, values kept) of one sample: TRIM of
    the values cut from each end, the variance taken over the winsorized sample."""
    x = np.sort(np.asarray(values, dtype=float))
    n, h = len(x), kept(len(x))
    g = (n - h) // 2
    winsorized = np.clip(x, x[g], x[n - g - 1])
    se2 = (n - 1) * float(np.var(winsorized, ddof=1)) / (h * (h - 1)) if h > 1 else math.nan
    return float(np.mean(x[g:n - g])), se2, h


def paired_estimate(differences: np.ndarray, tail: float, threshold: float) -> Estimate:
    """From per-block log ratios d (candidate - base of the same block)."""
    n = len(differences)
    mean, se2, kept = trimmed(differences)
    if n < 2:
        return Estimate(math.exp(mean), None, None, (n, n), True, None, None, None)
    return _estimate(mean, math.sqrt(se2), kept - 1, tail, threshold, (n, n), True)


def unpaired_estimate(base: np.ndarray, candidate: np.ndarray, tail: float,
                      threshold: float) -> Estimate:
    """From per-process log medians of two independent samples (Yuen's trimmed Welch)."""
    nb, nc = len(base), len(candidate)
    (mb, vb, hb), (mc, vc, hc) = trimmed(base), trimmed(candidate)
    mean = mc - mb
    if nb < 2 or nc < 2:
        return Estimate(math.exp(mean), None, None, (nb, nc), False, None, None, None)
    spread = math.sqrt(vb + vc)
    df = ((vb + vc) ** 2 / (vb ** 2 / (hb - 1) + vc ** 2 / (hc - 1)) if spread
          else hb + hc - 2)
    return _estimate(mean, spread, float(df), tail, threshold, (nb, nc), False)


def _estimate(mean: float, spread: float, df: float, tail: float, threshold: float,
              processes: tuple[int, int], paired: bool) -> Estimate:
    half = t_quantile(df, 1 - tail) * spread
    return Estimate(ratio=math.exp(mean), low=math.exp(mean - half), high=math.exp(mean + half),
                    processes=processes, paired=paired, spread=spread, df=df,
                    mde=mde(spread, df, tail, threshold))


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


def straddles(estimate: Estimate, threshold: float) -> bool:
    """Whether more blocks could still turn this "no change" into a regression:
    the interval holds 1 + threshold and the estimate points up."""
    return (estimate.measured and estimate.ratio > 1
            and estimate.low <= 1 + threshold < estimate.high)


def blocks_needed(estimate: Estimate, tail: float, threshold: float, detect: float,
                  most: int = 1000) -> int | None:
    """Blocks (processes per side) for an MDE of at most `detect` at this spread,
    or None when no number up to `most` would do."""
    if not estimate.measured or detect <= threshold:
        return None
    n_now = estimate.processes[0]
    kept_now = estimate.df + 1 if estimate.paired else n_now
    sd = estimate.spread * kept_now / math.sqrt(n_now)  # one block's (winsorized) spread
    for n in range(2, most + 1):
        if mde(sd * math.sqrt(n) / kept(n), kept(n) - 1, tail, threshold) <= detect:
            return n
    return None
