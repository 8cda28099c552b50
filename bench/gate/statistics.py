"""The statistic the gate takes over processes: one class per statistic behind
one seam, chosen by name in `Settings` (bench.gate.compare).

A statistic says three things about a sample of per-process values (log
ratios of the blocks, or each side's log medians): where it lies (`summarize`:
its centre and the dispersion its standard error scales), how that standard
error shrinks with more values (`standard_error`), and on how many degrees of
freedom (`df`). Everything else is the same for every statistic and lives
here once: the paired and unpaired (Welch) intervals on Student's t, the
minimum detectable effect on the noncentral t, and the blocks a benchmark
needs to reach the detection target. The paired interval is also computed
for many samples at once (`paired_bounds`, along the last axis), by the same
code: the sequential rule's simulation (tests/test_sequential.py) judges
thousands of gates with it.

- TrimmedMean: the 20 % trimmed mean with the winsorized variance (Tukey and
  McLaughlin; Yuen's form for two samples): the few processes that run far
  from the rest are set aside instead of widening every interval.
- Mean: the plain mean with the sample variance (Student, Welch).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from .decide import Estimate, mde, t_quantile


@dataclass(frozen=True)
class Summary:
    centre: float      # the statistic's location of the values
    dispersion: float  # the spread its standard error scales (nan below two values)
    n: int


# name -> the statistic: every subclass that names itself is listed here.
STATISTICS: dict[str, Statistic] = {}


class Statistic(ABC):
    """One way to summarize per-process values; see the module's docstring.
    A subclass that sets `name` is registered in STATISTICS, so Settings and
    --statistic offer it: adding a statistic is adding its class."""

    name: str          # how Settings, --statistic and gate.json name it
    description: str   # how the gate's summary says it

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            if cls.name in STATISTICS:
                raise ValueError(f"statistic {cls.name!r} is defined twice")
            STATISTICS[cls.name] = cls()

    @abstractmethod
    def centres(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centre and dispersion along the last axis (each of at least two values)."""

    @abstractmethod
    def standard_error(self, dispersion, n: int):
        """The centre's standard error from n values of this dispersion (arrays alike)."""

    @abstractmethod
    def df(self, n: int) -> float:
        """Degrees of freedom of the centre's t statistic from n values."""

    # ------------------------------------------------ the same for every statistic

    def summarize(self, values: np.ndarray) -> Summary:
        """Centre and dispersion of one sample (nan dispersion below two values)."""
        values = np.asarray(values, dtype=float)
        if len(values) < 2:
            return Summary(float(np.mean(values)) if len(values) else math.nan, math.nan,
                           len(values))
        centre, dispersion = self.centres(values)
        return Summary(float(centre), float(dispersion), len(values))

    def paired_bounds(self, differences: np.ndarray, tail: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ratio, low, high) of the paired interval of each sample of per-block log
        ratios along the last axis (at least two blocks): what `paired` gives, for
        many samples at once."""
        differences = np.asarray(differences, dtype=float)
        n = differences.shape[-1]
        centre, dispersion = self.centres(differences)
        return bounds(centre, self.standard_error(dispersion, n), self.df(n), tail)

    def paired(self, differences: np.ndarray, tail: float, threshold: float) -> Estimate:
        """From per-block log ratios d (candidate - base of the same block)."""
        s = self.summarize(np.asarray(differences, dtype=float))
        if s.n < 2:
            return Estimate.unmeasured(s.centre, (s.n, s.n), paired=True)
        spread = self.standard_error(s.dispersion, s.n)
        return self._estimate(s.centre, spread, self.df(s.n), tail, threshold, (s.n, s.n),
                              True, (s.dispersion,))

    def unpaired(self, base: np.ndarray, candidate: np.ndarray, tail: float,
                 threshold: float) -> Estimate:
        """From per-process log medians of two independent samples (Welch's form)."""
        b = self.summarize(np.asarray(base, dtype=float))
        c = self.summarize(np.asarray(candidate, dtype=float))
        centre = c.centre - b.centre
        if b.n < 2 or c.n < 2:
            return Estimate.unmeasured(centre, (b.n, c.n), paired=False)
        spread, df = self.welch(b, c)
        return self._estimate(centre, spread, df, tail, threshold, (b.n, c.n), False,
                              (b.dispersion, c.dispersion))

    def blocks_needed(self, estimate: Estimate, tail: float, threshold: float, detect: float,
                      most: int = 1000) -> int | None:
        """Blocks (processes per side) for an MDE of at most `detect` at the
        dispersion measured, or None when no number up to `most` would do."""
        if not estimate.measured or detect <= threshold:
            return None
        for n in range(2, most + 1):
            if self.mde_at(estimate, n, tail, threshold) <= detect:
                return n
        return None

    def mde_at(self, estimate: Estimate, blocks: int, tail: float, threshold: float) -> float:
        """The MDE at `blocks` processes a side and this tail, at the dispersion
        measured (estimate must be measured)."""
        sides = [Summary(0.0, d, blocks) for d in estimate.dispersions]
        if estimate.paired:
            spread, df = self.standard_error(sides[0].dispersion, blocks), self.df(blocks)
        else:
            spread, df = self.welch(*sides)
        return mde(spread, df, tail, threshold)

    def welch(self, b: Summary, c: Summary) -> tuple[float, float]:
        """(standard error, Welch's degrees of freedom) of the difference of two centres."""
        vb = self.standard_error(b.dispersion, b.n) ** 2
        vc = self.standard_error(c.dispersion, c.n) ** 2
        spread = math.sqrt(vb + vc)
        df_b, df_c = self.df(b.n), self.df(c.n)
        df = (vb + vc) ** 2 / (vb ** 2 / df_b + vc ** 2 / df_c) if spread else df_b + df_c
        return spread, float(df)

    @staticmethod
    def _estimate(centre: float, spread: float, df: float, tail: float, threshold: float,
                  processes: tuple[int, int], paired: bool,
                  dispersions: tuple[float, ...]) -> Estimate:
        ratio, low, high = bounds(centre, spread, df, tail)
        return Estimate(ratio=float(ratio), low=float(low), high=float(high),
                        processes=processes, paired=paired, spread=float(spread), df=df,
                        mde=mde(float(spread), df, tail, threshold), dispersions=dispersions)


def bounds(centre, spread, df: float, tail: float):
    """(ratio, low, high): the Student t interval of a log ratio, back on the ratio
    scale; scalars or arrays alike."""
    half = t_quantile(df, 1 - tail) * spread
    return np.exp(centre), np.exp(centre - half), np.exp(centre + half)


class TrimmedMean(Statistic):
    """TRIM of the values cut from each end (none below five values); the
    variance taken over the winsorized sample."""

    TRIM = 0.2
    name = "trimmed"
    description = f"{TRIM * 100:g} % trimmed mean (Tukey-McLaughlin; Yuen for unpaired sides)"

    def kept(self, n: int) -> int:
        """How many of n values the trimmed mean keeps."""
        return n - 2 * (int(self.TRIM * n) if n >= 5 else 0)

    def centres(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.sort(values, axis=-1)
        n = x.shape[-1]
        g = (n - self.kept(n)) // 2
        winsorized = np.clip(x, x[..., g:g + 1], x[..., n - g - 1:n - g])
        return np.mean(x[..., g:n - g], axis=-1), np.var(winsorized, axis=-1, ddof=1)

    def standard_error(self, dispersion, n: int):
        h = self.kept(n)
        return np.sqrt((n - 1) * dispersion / (h * (h - 1))) if h > 1 else math.nan

    def df(self, n: int) -> float:
        return self.kept(n) - 1


class Mean(Statistic):
    """The plain mean with the sample variance: every process counts alike."""

    name = "mean"
    description = "mean (Student; Welch for unpaired sides)"

    def centres(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.mean(values, axis=-1), np.var(values, axis=-1, ddof=1)

    def standard_error(self, dispersion, n: int):
        return np.sqrt(dispersion / n)

    def df(self, n: int) -> float:
        return n - 1


DEFAULT = TrimmedMean.name
