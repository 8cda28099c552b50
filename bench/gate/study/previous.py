"""The two single-run gates the study compares ours with, on one process per side.

- previous: this project's first gate: a bootstrap interval of the ratio of
  the two runs' median paired samples, widened by a fixed 1.5 % "run noise"
  measured once on the development machine, threshold 5 % (10 % under 10 µs),
  99 % confidence, criterion's rule;
- stock: pytest-benchmark's --benchmark-compare-fail=mean:10%
  (PercentageRegressionCheck: candidate mean / base mean * 100 - 100 > 10).

Each takes one run a side and returns what ours returns (bench.gate.compare):
a Row per benchmark of both, with its outcome and estimate.
"""
from __future__ import annotations

import math
import zlib
from statistics import NormalDist

import numpy as np

from bench import runs
from bench.gate.compare import Row
from bench.gate.decide import Estimate, Outcome, verdict
from bench.policy import THRESHOLD
from bench.runs import Benchmark, Run

RUN_NOISE = 0.015
SMALL_THRESHOLD, SMALL_TIME = 0.10, 10e-6
CONFIDENCE = 0.99
RESAMPLES = 20_000
STOCK_PERCENT = 10


def _draw_medians(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap medians from their exact distribution (the m-th smallest of n
    draws is <= the j-th value with P(Binomial(n, j/n) >= m))."""
    values = np.sort(samples)
    n = len(values)
    m = (n + 1) // 2
    from scipy.special import betainc  # here: --help needs no extra

    cdf = betainc(m, n - m + 1, np.arange(1, n + 1) / n)
    cdf[-1] = 1.0
    index = np.searchsorted(cdf, rng.random(RESAMPLES), side="right")
    return values[np.minimum(index, n - 1)]


def previous_row(base: Benchmark, candidate: Benchmark) -> Row:
    mode = runs.resolve_normalization("auto", base)
    b, c = base.normalized(mode), candidate.normalized(mode)
    rng = np.random.default_rng(zlib.crc32(base.key.encode()))
    ratio = float(np.median(c) / np.median(b))
    boot = _draw_medians(c, rng) / _draw_medians(b, rng)
    tail = (1 - CONFIDENCE) / 2
    extra = NormalDist().inv_cdf(1 - tail) * math.log1p(RUN_NOISE)
    centre = math.log(ratio)

    def widened(bound: float) -> float:  # the bootstrap's distance and the run noise, added in quadrature
        return math.hypot(centre - math.log(bound), extra)

    low = math.exp(centre - widened(min(float(np.quantile(boot, tail)), ratio)))
    high = math.exp(centre + widened(max(float(np.quantile(boot, 1 - tail)), ratio)))
    threshold = SMALL_THRESHOLD if base.median < SMALL_TIME else THRESHOLD
    estimate = Estimate(ratio, low, high, (1, 1), True, None, None, None)
    return Row(base.key, verdict(estimate, threshold), base, candidate, estimate, threshold, mode)


def stock_row(base: Benchmark, candidate: Benchmark) -> Row:
    ratio = candidate.mean / base.mean
    outcome = Outcome.REGRESSED if ratio * 100 - 100 > STOCK_PERCENT else Outcome.NO_CHANGE
    return Row(base.key, outcome, base, candidate,
               Estimate(ratio, None, None, (1, 1), True, None, None, None),
               STOCK_PERCENT / 100, "none")


def _gate(row) -> callable:
    def gate(base: Run, candidate: Run) -> list[Row]:
        """A Row per benchmark of both runs."""
        return [row(b, candidate.benchmarks[key]) for key, b in base.benchmarks.items()
                if key in candidate.benchmarks]
    return gate


previous_gate = _gate(previous_row)
stock_gate = _gate(stock_row)
