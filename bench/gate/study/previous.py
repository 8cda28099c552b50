"""The two single-run gates the study compares ours with, on one process per side.

- previous: this project's first gate: a bootstrap interval of the ratio of
  the two runs' median paired samples, widened by a fixed 1.5 % "run noise"
  measured once on the development machine, threshold 5 % (10 % under 10 µs),
  99 % confidence, criterion's rule;
- stock: pytest-benchmark's --benchmark-compare-fail=mean:10%
  (PercentageRegressionCheck: candidate mean / base mean * 100 - 100 > 10).
"""
from __future__ import annotations

import math
import zlib
from statistics import NormalDist

import numpy as np
from scipy.special import betainc

from bench import runs
from bench.runs import Benchmark

RUN_NOISE = 0.015
THRESHOLD, SMALL_THRESHOLD, SMALL_TIME = 0.05, 0.10, 10e-6
CONFIDENCE = 0.99
RESAMPLES = 20_000
STOCK_PERCENT = 10


def _draw_medians(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap medians from their exact distribution (the m-th smallest of n
    draws is <= the j-th value with P(Binomial(n, j/n) >= m))."""
    values = np.sort(samples)
    n = len(values)
    m = (n + 1) // 2
    cdf = betainc(m, n - m + 1, np.arange(1, n + 1) / n)
    cdf[-1] = 1.0
    index = np.searchsorted(cdf, rng.random(RESAMPLES), side="right")
    return values[np.minimum(index, n - 1)]


def previous_regressed(base: Benchmark, candidate: Benchmark) -> bool:
    mode = runs.resolve_normalization("auto", base)
    b, c = base.normalized(mode), candidate.normalized(mode)
    rng = np.random.default_rng(zlib.crc32(base.key.encode()))
    ratio = float(np.median(c) / np.median(b))
    boot = _draw_medians(c, rng) / _draw_medians(b, rng)
    tail = (1 - CONFIDENCE) / 2
    low = float(np.quantile(boot, tail))
    extra = NormalDist().inv_cdf(1 - tail) * math.log1p(RUN_NOISE)
    centre = math.log(ratio)
    low = math.exp(centre - math.hypot(centre - math.log(min(low, ratio)), extra))
    threshold = SMALL_THRESHOLD if base.median < SMALL_TIME else THRESHOLD
    return low > 1 + threshold


def stock_regressed(base: Benchmark, candidate: Benchmark) -> bool:
    return candidate.mean / base.mean * 100 - 100 > STOCK_PERCENT
