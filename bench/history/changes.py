"""Change points: where a benchmark's level moved and stayed.

A series holds one number per run, y = log of its median normalized sample
(the gate's per-process value), in run order. A change is a step in y that
lasts; an odd run or a slow drift is not one.

Proposal: ruptures' penalized kernel change point search (KernelCPD, linear
kernel: the least-squares cost, PELT's pruned dynamic programme in C),
segments of at least MIN_RUNS runs, penalty PENALTY * sigma^2 * ln(n), sigma
the per-run noise estimated robustly from successive differences. Its cost
grows with the square of a series' length, so a long series is searched in
windows of CHUNK runs overlapping by OVERLAP (a step near one window's edge
lies well inside the next), which keeps the cost per run constant. It may
propose too much (a lone outlier can buy a short segment); the rule below
decides, and its size check, on medians, ignores one odd run.

A proposed boundary is a change when all of these hold:

1. Size: the median of the MIN_RUNS runs after it over the median of the
   MIN_RUNS runs before it is a factor of at least 1 + MIN_CHANGE, up or down.
   Measured across the boundary, a drift of r per run adds only about
   MIN_RUNS * r to it however far the drift has gone; a median ignores one
   outlier beside the boundary; a level of fewer than MIN_RUNS runs cannot be.
2. Shape: two levels fit the runs of the two adjacent segments better (less
   squared error) than one straight line through them. A long drift gives
   the size check many chances to pass on noise somewhere; a line fits it.
3. Significance: Yuen's two-sample t interval (Welch's on 20 % trimmed
   means from five runs a side: scipy.stats.ttest_ind's trim=TRIM) on the
   per-run values of the two adjacent segments, at 1 - ALPHA, excludes a
   ratio of 1. With three runs on a side its t quantile is large, so a level
   held up by one or two odd runs, whose spread is large, does not pass.

Size does not depend on the other boundaries, so failures are dropped at once;
then, while some boundary fails shape or significance, the weakest (a failed
shape first, then the smallest |t|) is dropped and its segments merged. Each
boundary kept is a change: the first run of the new level, and the ratio of the
new segment's level to the old one's (trimmed means of the logs) with that interval.
Series shorter than 2 * MIN_RUNS runs are not searched. The limit is the
per-run noise: with three runs on a side, noise of a sizeable fraction of
MIN_CHANGE can hide a three-run step, move a boundary by a run, or let a
drift's window step pass the size check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench import policy

if TYPE_CHECKING:  # series loads pyarrow: --help reads this module's rule without the extra
    from .series import Point, Series

MIN_RUNS = 3        # a level lasts at least this many runs
MIN_CHANGE = policy.MIN_CHANGE  # smallest step reported
ALPHA = 0.05        # per boundary: chance that noise alone passes the significance check
TRIM = 0.2          # share of each segment's runs trimmed from each end (Yuen)
PENALTY = 2.0       # the proposal's penalty, in sigma^2 * ln(n)
CHUNK = 160         # longest window searched at once (the search is quadratic in it)
OVERLAP = 20        # runs shared by successive windows
SIGMA_FLOOR = 1e-4  # so that a noiseless series still gets a penalty


@dataclass(frozen=True)
class LevelShift:
    """New level / old level of two adjacent segments, with Yuen's 1 - ALPHA interval."""

    ratio: float
    low: float
    high: float
    runs_before: int
    runs_after: int
    t: float            # Yuen's statistic: the shift in standard errors

    @property
    def significant(self) -> bool:
        return self.low > 1 or self.high < 1


@dataclass(frozen=True)
class Change:
    series: Series
    index: int          # the first point of the new level
    step: float         # median of MIN_RUNS runs after / before the boundary
    estimate: LevelShift

    @property
    def point(self) -> Point:
        return self.series.point(self.index)


def detect(series: Series) -> list[Change]:
    """The changes of one series, in run order."""
    values = series.logs
    return [Change(series, index, math.exp(window_step(values, index)), estimate)
            for index, estimate in boundaries(values)]


def boundaries(values: np.ndarray) -> list[tuple[int, LevelShift]]:
    """(first index of the new level, its estimate) for each change in the values."""
    if len(values) < 2 * MIN_RUNS:
        return []
    kept = [b for b in propose(values)
            if abs(window_step(values, b)) >= math.log1p(MIN_CHANGE)]
    while True:
        judged = [_check_boundary(*_segments(values, kept, i)) for i in range(len(kept))]
        failing = [(strength, i) for i, (_, holds, strength) in enumerate(judged) if not holds]
        if not failing:
            return [(boundary, estimate) for boundary, (estimate, _, _) in zip(kept, judged)]
        del kept[min(failing)[1]]


def propose(values: np.ndarray) -> list[int]:
    """Proposed boundaries (indexes where a segment starts), at least MIN_RUNS apart."""
    import ruptures  # here, not at the top: it loads scipy, slow for --help

    n = len(values)
    penalty = PENALTY * noise(values) ** 2 * math.log(n)
    proposed: set[int] = set()
    for start in range(0, max(n - OVERLAP, 1), CHUNK - OVERLAP):
        window = values[start:start + CHUNK]
        if len(window) < 2 * MIN_RUNS:
            break
        search = ruptures.KernelCPD(kernel="linear", min_size=MIN_RUNS).fit(window)
        proposed.update(start + int(end) for end in search.predict(pen=penalty)
                        if end < len(window))  # the last is the window's end
    found: list[int] = []
    for boundary in sorted(b for b in proposed if MIN_RUNS <= b <= n - MIN_RUNS):
        if not found or boundary - found[-1] >= MIN_RUNS:  # the windows may each see one
            found.append(boundary)
    return found


def noise(values: np.ndarray) -> float:
    """The per-run noise: MAD of successive differences, scaled to a normal sigma.
    Differences cancel the level, so a step or a drift barely moves it."""
    differences = np.diff(values)
    mad = float(np.median(np.abs(differences - np.median(differences))))
    return max(1.4826 * mad / math.sqrt(2), SIGMA_FLOOR)


def window_step(values: np.ndarray, boundary: int) -> float:
    """log(median of the MIN_RUNS values from the boundary / median of the MIN_RUNS before)."""
    before = values[boundary - MIN_RUNS:boundary]
    after = values[boundary:boundary + MIN_RUNS]
    return float(np.median(after) - np.median(before))


def beats_a_line(old: np.ndarray, new: np.ndarray) -> bool:
    """Whether two levels fit old then new better than one straight line does."""
    both = np.concatenate([old, new])
    position = np.arange(len(both), dtype=float)
    line = np.polyval(np.polyfit(position, both, 1), position)
    two_levels = np.sum((old - old.mean()) ** 2) + np.sum((new - new.mean()) ** 2)
    return float(two_levels) < float(np.sum((both - line) ** 2))


def _segments(values: np.ndarray, kept: list[int], i: int) -> tuple[np.ndarray, np.ndarray]:
    """The runs either side of boundary kept[i], up to its neighbours."""
    start = kept[i - 1] if i > 0 else 0
    end = kept[i + 1] if i + 1 < len(kept) else len(values)
    return values[start:kept[i]], values[kept[i]:end]


def _trimmed(values: np.ndarray) -> tuple[float, float, int]:
    """(TRIM-trimmed mean, its squared standard error, values kept) of one segment:
    the variance is taken over the winsorized segment (Yuen)."""
    x = np.sort(values)
    n = len(x)
    g = int(TRIM * n)
    h = n - 2 * g
    winsorized = np.clip(x, x[g], x[n - g - 1])
    return float(np.mean(x[g:n - g])), (n - 1) * float(np.var(winsorized, ddof=1)) / (h * (h - 1)), h


def level_shift(old: np.ndarray, new: np.ndarray) -> LevelShift:
    """Yuen's trimmed two-sample t interval of log levels new - old, as a ratio
    (what scipy.stats.ttest_ind(new, old, equal_var=False, trim=TRIM) computes,
    without its per-call overhead: this runs for every proposed boundary)."""
    (mean_old, var_old, h_old), (mean_new, var_new, h_new) = _trimmed(old), _trimmed(new)
    shift, spread = mean_new - mean_old, math.sqrt(var_old + var_new)
    if not spread:  # no spread to measure: the interval is the point
        return LevelShift(math.exp(shift), math.exp(shift), math.exp(shift), len(old), len(new),
                          math.copysign(math.inf, shift) if shift else 0.0)
    df = (var_old + var_new) ** 2 / (var_old ** 2 / (h_old - 1) + var_new ** 2 / (h_new - 1))
    from scipy.special import stdtrit  # Student t quantiles, without loading scipy.stats

    half = float(stdtrit(df, 1 - ALPHA / 2)) * spread
    return LevelShift(math.exp(shift), math.exp(shift - half), math.exp(shift + half),
                      len(old), len(new), shift / spread)


def _check_boundary(old: np.ndarray, new: np.ndarray) -> tuple[LevelShift, bool, float]:
    """(the shift new / old, whether shape and significance hold, strength)."""
    shift = level_shift(old, new)
    if not beats_a_line(old, new):
        return shift, False, -1.0  # dropped before any merely weak boundary
    return shift, shift.significant, abs(shift.t)
