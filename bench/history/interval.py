"""An exact, distribution-free interval for the median of one run's samples.

The k-th smallest and k-th largest of n samples bracket the true median with
probability 1 - 2 P(Binomial(n, 1/2) < k), whatever the distribution of the
times (no resampling, so no seed, and cheap for any n). k is the largest
order that keeps this at least the asked confidence; with too few samples
for it (n <= 5 at 95 %) the interval is the samples' range.
"""
from __future__ import annotations

import numpy as np
from scipy.special import bdtr  # binomial CDF, without loading scipy.stats

CONFIDENCE = 0.95


def median_interval(samples: np.ndarray, confidence: float = CONFIDENCE
                    ) -> tuple[float, float, float]:
    """(median, low, high) of the samples."""
    ordered = np.sort(np.asarray(samples, dtype=float))
    n = len(ordered)
    if n == 0:
        raise ValueError("no samples")
    tail = (1 - confidence) / 2
    orders = np.arange(1, n // 2 + 1)
    # P(X <= k - 1) for X ~ Binomial(n, 1/2): the chance the k-th smallest lies above the median
    kept = orders[bdtr(orders - 1, n, 0.5) <= tail]
    k = int(kept[-1]) if len(kept) else 1
    return float(np.median(ordered)), float(ordered[k - 1]), float(ordered[n - k])
