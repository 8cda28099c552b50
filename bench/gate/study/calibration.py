"""Whether the gate's intervals hold on the recorded A/A processes, and the
false alarms per A/A comparison that their measured spreads imply.

Counting false alarms cannot show a rate near 1 %: with no alarm in n
independent A/A comparisons the 95 % upper bound is about 3 / n, and a
comparison takes minutes. The study's orders of groups share processes, so
its counts are fewer independent comparisons still. Two numbers that a study
of a few dozen groups can give instead:

- **Calibration.** The groups of a condition, split into disjoint A/A
  comparisons of the first look's blocks; in each, every benchmark's
  standardized log ratio z = log(ratio) / standard error, which the interval
  takes to follow Student's t on its degrees of freedom. The share of |z|
  beyond t's two-sided 95 % and 99 % quantiles is the share of per-benchmark
  intervals that miss the true ratio 1 (expected: 5 % and 1 %). Heavier
  tails than that would mean the gate's variance model fails here (a shared
  state per side, such as the fork server's address layout once was).
- **Implied false alarms.** Each benchmark's spread measured over all the
  condition's A/A groups; at every look of the sequential rule the chance that
  a true ratio of 1 gives an interval wholly above 1 + threshold (t on the
  look's blocks and tail), summed over looks and benchmarks: an upper bound
  on false alarms per A/A comparison under that model, also with each spread
  at its 95 % upper confidence bound (chi-square on the spread's degrees of
  freedom).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from bench import runs
from bench.gate import decide
from bench.gate.compare import TIME, Settings, compare
from bench.gate.sequential import Look

LEVELS = (0.95, 0.99)


@dataclass(frozen=True)
class Calibration:
    comparisons: int           # disjoint A/A comparisons
    blocks: int                # blocks each
    intervals: int             # per-benchmark intervals among them
    misses: dict[str, int]     # "95" / "99": intervals whose |z| is beyond that t quantile
    benchmarks: int            # benchmarks in the implied rate
    implied: float             # false alarms per A/A comparison, at the measured spreads
    implied_upper: float       # the same with each spread at its 95 % upper bound

    def as_json(self) -> dict:
        return asdict(self)


def calibrate(base: dict[int, runs.Run], same: dict[int, runs.Run], groups: list[int],
              looks: tuple[Look, ...], settings: Settings) -> Calibration:
    """The calibration and implied false alarms of one condition's A/A groups."""
    size = looks[0].blocks
    chunks = [groups[i:i + size] for i in range(0, len(groups) - size + 1, size)]
    misses = {level: 0 for level in LEVELS}
    intervals = 0
    for chunk in chunks:
        for estimate in _estimates(base, same, chunk, settings):
            z = math.log(estimate.ratio) / estimate.spread
            intervals += 1
            for level in LEVELS:
                misses[level] += abs(z) > decide.t_quantile(estimate.df, (1 + level) / 2)
    spreads = list(_estimates(base, same, groups, settings))
    implied = sum(alarm_chance(e.dispersions[0], looks, len(spreads), settings)
                  for e in spreads)
    upper = sum(alarm_chance(upper_dispersion(e.dispersions[0], e.df), looks, len(spreads),
                             settings) for e in spreads)
    return Calibration(len(chunks), size, intervals,
                       {f"{level * 100:g}": count for level, count in misses.items()},
                       len(spreads), implied, upper)


def _estimates(base, same, chunk: list[int], settings: Settings):
    """The measured, paired time estimates of base against same on these groups."""
    for row in compare([base[g] for g in chunk], [same[g] for g in chunk], settings):
        e = row.estimate
        if row.metric == TIME and e is not None and e.measured and e.paired and e.spread > 0:
            yield e


def alarm_chance(dispersion: float, looks: tuple[Look, ...], benchmarks: int,
                 settings: Settings) -> float:
    """Sum over the looks of P(interval wholly above 1 + threshold) for a true ratio
    of 1 at this dispersion of the block differences (an upper bound on the
    benchmark's false alarms by the sequential rule, which stops some runs early)."""
    from scipy.special import stdtr

    statistic = settings.estimator
    total = 0.0
    for look in looks:
        spread = float(statistic.standard_error(dispersion, look.blocks))
        df = statistic.df(look.blocks)
        quantile = decide.t_quantile(df, 1 - decide.tail(look.alpha, benchmarks))
        total += float(stdtr(df, -(quantile + math.log1p(settings.threshold) / spread)))
    return total


def upper_dispersion(dispersion: float, df: float, confidence: float = 0.95) -> float:
    """The dispersion (a variance) at its one-sided upper confidence bound:
    df * s^2 / chi-square's lower (1 - confidence) quantile."""
    from scipy.special import chdtri

    return dispersion * df / float(chdtri(df, confidence))
