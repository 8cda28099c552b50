"""The gate's statistics: a bootstrap interval of a ratio of medians, and its verdict.

The quantity compared is the per-round ratio time / reference time (bench.timing
pairs them), so machine-speed drift that hits both halves of a round cancels.
Medians, because a shared machine adds rare, huge stalls that move a mean (and
stock pytest-benchmark's compare) but hardly a median.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

REGRESSED, IMPROVED, NO_CHANGE = "regressed", "improved", "no change"

# Bootstrap resamples: 2000 puts 10 resamples beyond each end of a 99 % interval.
RESAMPLES = 2000
# Cap on one block of resampled values (floats), to bound memory for long runs.
_BLOCK = 4_000_000


@dataclass(frozen=True)
class Interval:
    """ratio = median(candidate) / median(baseline), with its confidence interval."""

    ratio: float
    low: float
    high: float

    @property
    def change(self) -> float:
        return self.ratio - 1.0


def seed_for(key: str) -> int:
    """A fixed seed per benchmark: the verdict is reproducible and does not
    depend on which other benchmarks are in the run."""
    return zlib.crc32(key.encode("utf-8"))


def bootstrap_medians(samples: np.ndarray, rng: np.random.Generator,
                      resamples: int = RESAMPLES) -> np.ndarray:
    """Medians of `resamples` resamples (with replacement) of samples, vectorised."""
    n = len(samples)
    block = max(1, _BLOCK // n)
    out = np.empty(resamples)
    for start in range(0, resamples, block):
        stop = min(start + block, resamples)
        index = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = np.median(samples[index], axis=1)
    return out


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
    boot = bootstrap_medians(candidate, rng, resamples) / bootstrap_medians(baseline, rng, resamples)
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

