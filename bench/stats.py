"""The gate's statistics: a bootstrap interval of a ratio of medians, and its verdict.

The samples compared are normalised by the reference timed in the same run
(bench.runs.NORMALISATIONS: by default each round's time / its reference's, so
machine-speed drift that hits both halves of a round cancels). Medians, because a shared machine adds rare, huge stalls that move a mean (and
stock pytest-benchmark's compare) but hardly a median.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from scipy.special import betainc  # scipy.stats would add ~0.5 s to every gate start

REGRESSED, IMPROVED, NO_CHANGE = "regressed", "improved", "no change"

# Draws from the two medians' bootstrap distributions that make the ratio's:
# 20 000 put 100 draws beyond each end of a 99 % interval.
RESAMPLES = 20_000


@dataclass(frozen=True)
class Interval:
    """ratio = median(candidate) / median(baseline), with its confidence interval."""

    ratio: float
    low: float
    high: float


def seed_for(key: str) -> int:
    """A fixed seed per benchmark: the verdict is reproducible and does not
    depend on which other benchmarks are in the run."""
    return zlib.crc32(key.encode("utf-8"))


def median_distribution(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact bootstrap distribution of the (lower) median: (sorted values, CDF).

    The median of a resample of n values is the m-th smallest, m = ceil(n / 2).
    It is <= the j-th smallest sample exactly when at least m of the n draws
    are, and each draw is with probability j / n: P = P(Binomial(n, j/n) >= m).
    So no resampling is needed for one side, whatever n, in O(n log n).
    """
    values = np.sort(samples)
    n = len(values)
    m = (n + 1) // 2
    # P(Binomial(n, p) >= m) is the regularised incomplete beta I_p(m, n - m + 1).
    cdf = betainc(m, n - m + 1, np.arange(1, n + 1) / n)
    cdf[-1] = 1.0
    return values, cdf


def draw_medians(samples: np.ndarray, rng: np.random.Generator,
                 resamples: int = RESAMPLES) -> np.ndarray:
    """`resamples` medians of bootstrap resamples of samples, drawn from the exact
    distribution (as if resampling, but in O(n log n + resamples log n))."""
    values, cdf = median_distribution(samples)
    index = np.searchsorted(cdf, rng.random(resamples), side="right")
    return values[np.minimum(index, len(values) - 1)]


def ratio_interval(baseline: np.ndarray, candidate: np.ndarray, *, confidence: float,
                   seed: int = 0, run_noise: float = 0.0,
                   resamples: int = RESAMPLES) -> Interval:
    """Percentile-bootstrap interval of median(candidate) / median(baseline).

    The two runs are resampled independently. The bootstrap sees only the noise
    within each run; run_noise (a relative standard deviation of the ratio
    between runs of unchanged code, measured by bench.study) widens the
    interval in log space, in quadrature, for the noise between processes that
    one run cannot show (memory layout, cache and frequency state).
    """
    rng = np.random.default_rng(seed)
    ratio = float(np.median(candidate) / np.median(baseline))
    boot = draw_medians(candidate, rng, resamples) / draw_medians(baseline, rng, resamples)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [tail, 1.0 - tail])
    if run_noise > 0:
        extra = NormalDist().inv_cdf(1.0 - tail) * math.log1p(run_noise)
        centre = math.log(ratio)
        low = math.exp(centre - math.hypot(centre - math.log(low), extra))
        high = math.exp(centre + math.hypot(math.log(high) - centre, extra))
    return Interval(ratio, float(min(low, ratio)), float(max(high, ratio)))


def verdict(interval: Interval, threshold: float) -> str:
    """criterion.rs's rule: a change counts only when the whole interval is
    beyond the noise threshold; anything else is "no change"."""
    if interval.low > 1.0 + threshold:
        return REGRESSED
    if interval.high < 1.0 - threshold:
        return IMPROVED
    return NO_CHANGE

