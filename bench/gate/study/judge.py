"""Every gate on the same recorded processes.

- The true effect of each patch on each benchmark comes from a long run of
  its own (many blocks, quiet): the estimated ratio with a 99 % interval.
  A benchmark is "really changed" by a patch when that ratio is >= 1 +
  REAL_CHANGE, and "unchanged" when its interval lies within ±UNCHANGED.
- Ours: `comparisons` random orders of the groups of one condition (quiet or
  noisy neighbour); for each, the sequential rule (bench.gate.sequential) on
  base against the other tree, drawing the groups in that order as `bench ab`
  runs blocks: the first look's groups, then more for the benchmarks still
  undecided, until every one is decided or the last look (or the groups run
  out). Its cost is the groups it drew, and their recorded wall times: an
  upper bound, since `bench ab`'s later blocks run only the undecided
  benchmarks where a recorded group ran them all. Orders share groups, so
  they are not independent comparisons.
- Ours at one look (`fixed`, optional): the same draws at a single look of
  that many blocks (`bench ab --processes N`), what stopping early saves.
- The single-run gates: every group gives one comparison of one process each.
- Calibration (bench.gate.study.calibration): whether the intervals hold on
  disjoint A/A comparisons, and the false alarms the measured spreads imply.

A false alarm is a "regressed" verdict on a benchmark that is unchanged:
every benchmark in an A/A comparison (base against an identical copy), the
unchanged benchmarks in a patched one.
"""
from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bench import policy, runs
from bench.gate import decide, sequential
from bench.gate.compare import TIME, Settings, compare
from bench.gate.sequential import Look

from . import previous
from .calibration import calibrate
from .record import BASE, SAME

REAL_CHANGE = policy.REAL_CHANGE
UNCHANGED = 0.02


@dataclass
class Tally:
    hits: int = 0
    total: int = 0

    def add(self, hit: bool) -> None:
        self.hits += bool(hit)
        self.total += 1

    def cell(self) -> str:
        if not self.total:
            return "n/a"
        low, high = clopper_pearson(self.hits, self.total)
        return (f"{self.hits / self.total * 100:.1f} % ({self.hits}/{self.total}) "
                f"[{low * 100:.1f}, {high * 100:.1f}]")


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return ci.low, ci.high


def load_tree_runs(folder: Path, tree: str) -> dict[int, runs.Run]:
    return {int(p.stem.split("-")[1]): runs.load(p)
            for p in sorted((folder / tree).glob("group-*.json"))}


def true_effects(truth: Path, patch: str) -> dict[str, decide.Estimate]:
    """Per benchmark, the patch's effect from its long run (99 % interval each)."""
    base, patched = load_tree_runs(truth, BASE), load_tree_runs(truth, patch)
    rows = compare([base[g] for g in sorted(base)], [patched[g] for g in sorted(base)],
                   Settings(alpha=0.01, family_wise=False))
    return {r.key: r.estimate for r in rows if r.estimate is not None and r.estimate.measured}


@dataclass
class GateTallies:
    aa_alarm: Tally = field(default_factory=Tally)            # per A/A comparison
    patch_alarm: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    detect: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    seconds: list[float] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)           # groups per comparison


def _ours(base: dict[int, runs.Run], other: dict[int, runs.Run], groups: list[int],
          looks: tuple[Look, ...], rng: random.Random, settings: Settings
          ) -> tuple[dict[str, decide.Outcome], list[int]]:
    """Verdicts of one comparison by the sequential rule; the groups it drew."""
    order = rng.sample(groups, len(groups))
    chosen, spare = order[:looks[0].blocks], order[looks[0].blocks:]

    def judge_at(look: Look):
        # Groups hold every benchmark; the rule takes only the undecided ones'
        # rows from a later look, as `bench ab` runs only them.
        return compare([base[g] for g in chosen], [other[g] for g in chosen],
                       replace(settings, alpha=look.alpha))

    def add_groups(keys: list[str], count: int) -> int:
        step = spare[:count]
        del spare[:len(step)]
        chosen.extend(step)
        return len(step)

    result = sequential.run(looks, judge_at, add_groups, settings.detect)
    return {r.key: r.outcome for r in result.rows if r.metric == TIME}, chosen


def judge(folder: Path, *, looks: tuple[Look, ...], comparisons: int, seed: int,
          settings: Settings = Settings(), fixed: int | None = None) -> dict:
    """Tallies per condition and gate, as JSON-ready numbers, plus what was compared;
    fixed: also our gate at one look of that many blocks."""
    log = json.loads((folder / "main" / "groups.json").read_text())
    trees = sorted({name for entry in log for name in entry["order"]})
    patches = [t for t in trees if t not in (BASE, SAME)]
    tree_runs = {t: load_tree_runs(folder / "main", t) for t in trees}
    effects = {p: true_effects(folder / "truth" / p, p) for p in patches}
    seconds = {t: float(np.mean([e["seconds"][t] for e in log])) for t in trees}
    recorded = {e["group"]: e["seconds"] for e in log}  # each process's wall time
    result = {"effects": {p: {k: [e.ratio, e.low, e.high] for k, e in eff.items()}
                          for p, eff in effects.items()},
              "seconds_per_process": seconds, "fixed_blocks": fixed, "conditions": {}}
    sequential_gates = {"ours": looks}
    if fixed:
        sequential_gates["fixed"] = sequential.schedule(fixed, fixed, settings.alpha)
    rng = random.Random(seed)
    for condition, noisy in (("quiet", False), ("noisy neighbour", True)):
        groups = [e["group"] for e in log if e["noisy"] == noisy]
        tallies = {name: GateTallies() for name in [*sequential_gates, "previous", "stock"]}
        for other in [SAME, *patches]:
            changed = ({k for k, e in effects[other].items() if e.ratio >= 1 + REAL_CHANGE}
                       if other != SAME else set())
            unchanged = (None if other == SAME else
                         {k for k, e in effects[other].items()
                          if e.low >= 1 - UNCHANGED and e.high <= 1 + UNCHANGED})
            for name, gate_looks in sequential_gates.items():
                tally = tallies[name]
                for _ in range(comparisons if len(groups) >= gate_looks[0].blocks else 0):
                    verdicts, used = _ours(tree_runs[BASE], tree_runs[other], groups,
                                           gate_looks, rng, settings)
                    _count(tally, other, verdicts, changed, unchanged)
                    tally.seconds.append(sum(recorded[g][BASE] + recorded[g][other]
                                             for g in used))
                    tally.blocks.append(len(used))
            for g in groups:
                base, cand = tree_runs[BASE][g], tree_runs[other][g]
                for name, gate in (("previous", previous.previous_gate),
                                   ("stock", previous.stock_gate)):
                    verdicts = {r.key: r.outcome for r in gate(base, cand)}
                    _count(tallies[name], other, verdicts, changed, unchanged)
                    tallies[name].seconds.append(seconds[BASE] + seconds[other])
                    tallies[name].blocks.append(1)
        result["conditions"][condition] = {
            "groups": len(groups), "tallies": tallies,
            "calibration": (calibrate(tree_runs[BASE], tree_runs[SAME], groups, looks, settings)
                            .as_json() if len(groups) >= looks[0].blocks else None)}
    return result


def _count(tally: GateTallies, other: str, verdicts: dict[str, decide.Outcome],
           changed: set[str], unchanged: set[str] | None) -> None:
    regressed = {k for k, v in verdicts.items() if v is decide.Outcome.REGRESSED}
    if other == SAME:
        tally.aa_alarm.add(bool(regressed))
        return
    tally.patch_alarm[other].add(bool(regressed & unchanged))
    for key in changed & set(verdicts):
        tally.detect[other].add(key in regressed)
