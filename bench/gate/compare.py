"""Compare saved runs of two sides, benchmark by benchmark (see bench.gate.decide).

Each side is one or more gate-ready runs, one per process. Runs of the two
sides that share a file name (block-003.json on both sides, as `python -m
bench ab` writes them) are paired as blocks; otherwise the sides are two
independent samples. Every run must come from the same machine and
environment (bench.runs.MACHINE_FIELDS), and no base run may carry an
injected slowdown.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from bench import runs
from bench.exitcodes import Exit
from bench.policy import ALPHA, DETECT, THRESHOLD
from bench.runs import Benchmark, Run, RunError

from . import calm, decide, memory, statistics
from .decide import Estimate, Outcome
from .memory import MemoryChange
from .statistics import Statistic

NORMALIZE = "auto"
# What the gate can judge: time (from the spread between processes) and memory
# (what one call allocates: bench.gate.memory; on CUDA also the device's).
TIME = "time"
METRICS = (TIME, memory.HOST)


class RefusedError(RunError):
    """The runs were measured on different machines or environments."""


@dataclass(frozen=True)
class Settings:
    threshold: float = THRESHOLD
    alpha: float = ALPHA
    detect: float = DETECT
    normalize: str = NORMALIZE
    allow_different_machine: bool = False
    # alpha split over the benchmarks judged (Bonferroni), or alpha for each one
    # (the study's per-benchmark estimate of a patch's true effect).
    family_wise: bool = True
    # The one place the gate's statistic over processes is chosen (bench.gate.statistics).
    statistic: str = statistics.DEFAULT
    metrics: tuple[str, ...] = METRICS  # memory covers the device's peak where recorded
    memory_tolerance: float = memory.TOLERANCE
    memory_floor: int = memory.FLOOR

    def __post_init__(self) -> None:
        for name in ("threshold", "alpha", "detect"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ValueError(f"{name} must be a fraction in (0, 1), got {value}")
        if self.normalize not in runs.NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {runs.NORMALIZATIONS}, "
                             f"got {self.normalize!r}")
        if not 0 < self.memory_tolerance < 1 or self.memory_floor < 0:
            raise ValueError(f"memory_tolerance must be a fraction in (0, 1) and memory_floor "
                             f"a count of bytes >= 0, got {self.memory_tolerance}, "
                             f"{self.memory_floor}")
        if not self.metrics or set(self.metrics) - set(METRICS):
            raise ValueError(f"metrics must be some of {METRICS}, got {self.metrics}")
        if self.statistic not in statistics.STATISTICS:
            raise ValueError(f"statistic must be one of {sorted(statistics.STATISTICS)}, "
                             f"got {self.statistic!r}")

    @property
    def estimator(self) -> Statistic:
        return statistics.STATISTICS[self.statistic]


@dataclass(frozen=True)
class Row:
    """The gate's finding for one benchmark."""

    key: str
    outcome: Outcome
    base: Benchmark | None = None       # as measured in the first run that has it
    candidate: Benchmark | None = None
    estimate: Estimate | None = None
    threshold: float | None = None
    normalization: str | None = None    # the resolved mode the estimate compares
    needs_blocks: int | None = None     # for an MDE within the detection target
    note: str = ""
    dropped: int = 0                    # rounds dropped for clock faults, over both sides
    metric: str = TIME                  # or a memory metric (bench.gate.memory)
    memory: MemoryChange | None = None  # the peaks compared, for a memory row
    look: int | None = None             # the sequential look that decided it (bench ab)
    # The MDE at the last look's blocks and alpha, at the spread measured: what
    # the sequential rule catches for a benchmark it decided at an earlier look.
    last_look_mde: float | None = None

    @property
    def too_noisy(self) -> bool:
        """Judged, but its MDE exceeds the detection target."""
        return self.estimate is not None and self.estimate.measured and self.needs_blocks != 0


def check_comparable(base: list[Run], candidate: list[Run], allow_different_machine: bool
                     ) -> list[str]:
    """Refuse sides from different environments (RefusedError) and baselines with an
    injected slowdown (RunError); return the differences that were allowed."""
    if not base or not candidate:
        raise RunError("each side needs at least one run")
    check_distinct([*base, *candidate])
    for run in base:
        slowed = sorted({b.workload.kernel if b.workload else b.key
                         for b in run.benchmarks.values()
                         if b.environment is not None and b.environment.slowdown})
        if slowed:
            raise RunError(f"{run.source}: not a baseline: it records an injected slowdown "
                           f"(MATMUL_BENCH_SLOWDOWN) of {', '.join(slowed)}")
    first = base[0]
    differing = sorted({d for run in [*base[1:], *candidate] for d in runs.differences(first, run)})
    if differing and not allow_different_machine:
        raise RefusedError(
            f"refusing to compare runs measured on different machines or environments "
            f"({'; '.join(differing)}), first {first.source}. Timings from different setups "
            "differ by more than any regression worth catching; rerun both sides on one "
            "machine, or pass --allow-different-machine.")
    return differing


def fingerprint(run: Run) -> str:
    """What makes two runs the same process: their raw samples (a copy of a file, or
    one file named two ways, is one run)."""
    h = hashlib.sha256(str(run.datetime).encode())
    for key, bench in sorted(run.benchmarks.items()):
        h.update(key.encode())
        for values in (bench.samples, bench.reference):
            h.update(b"-" if values is None else values.tobytes())
    return h.hexdigest()


def check_distinct(all_runs: list[Run]) -> None:
    """RunError when one run is given twice: it would count as two processes."""
    seen: dict[str, Run] = {}
    for run in all_runs:
        other = seen.setdefault(fingerprint(run), run)
        if other is not run:
            raise RunError(f"the same run is given twice ({other.source} and {run.source}): "
                           "each process counts once; name each run once")


def blocks(base: list[Run], candidate: list[Run]) -> list[tuple[Run, Run]] | None:
    """Pairs (base, candidate) of runs with the same file name, when every run has one."""
    by_name = {run.source.name: run for run in candidate}
    if len(by_name) != len(candidate) or {r.source.name for r in base} != set(by_name):
        return None
    return [(run, by_name[run.source.name]) for run in base]


def compare(base: list[Run], candidate: list[Run], settings: Settings = Settings()) -> list[Row]:
    """A row per benchmark and metric of either side: base's order first, then new
    ones; each benchmark's memory rows follow its time row."""
    check_comparable(base, candidate, settings.allow_different_machine)
    if TIME in settings.metrics:
        for run in [*base, *candidate]:
            runs.require_samples(run)
    pairs = blocks(base, candidate)
    keys = list(dict.fromkeys(k for run in base for k in run.benchmarks))
    new = [k for k in dict.fromkeys(k for run in candidate for k in run.benchmarks)
           if k not in keys]
    measured = [k for k in keys if any(k in run.benchmarks for run in candidate)]
    family = max(1, len(measured)) if settings.family_wise else 1
    tail = decide.tail(settings.alpha, family)
    rows = []
    for key in keys:
        first_base = next(run.benchmarks[key] for run in base if key in run.benchmarks)
        if key not in measured:
            rows.append(Row(key, Outcome.REMOVED, base=first_base))
            continue
        if TIME in settings.metrics:
            rows.append(_compare_benchmark(key, base, candidate, pairs, tail, settings))
        if memory.HOST in settings.metrics:
            rows += _judge_memory(key, base, candidate, settings)
    rows += [Row(key, Outcome.NEW,
                 candidate=next(r.benchmarks[key] for r in candidate if key in r.benchmarks))
             for key in new]
    return rows


def normalization_choices(requested: str, base: list[Benchmark], candidate: list[Benchmark]
                          ) -> tuple[str, ...]:
    """The normalizations one benchmark may be compared by.

    auto: pair, run, none, a pair with each alternative reference every
    process of both sides timed (bench.suite.cases; not one that is a probe
    only, calm.PROBE_ONLY), and each of these over the calm rounds of each
    probe every process timed (bench.gate.calm): a reference cancels the
    machine's drift only when it drifts with the call, otherwise it adds its
    own noise. pair and run are choices only where every
    process names the same primary reference (a revision may change what it
    times, as round 3's stop 36 did). With fewer than three processes a side,
    the single-run rule of bench.runs.resolve_normalization.
    """
    if requested != "auto":
        return (requested,)
    if min(len(base), len(candidate)) < 3:
        return (runs.resolve_normalization("auto", base[0]),)
    everyone = [*base, *candidate]
    shared = set.intersection(*(set(b.alternatives) for b in everyone)) - calm.PROBE_ONLY
    # A primary reference that is not the same on every process (a revision
    # that changed it) is no choice either: its ratios say nothing about each other.
    primary = ("pair", "run") if len({b.reference_name for b in everyone}) == 1 else ()
    plain = (*primary, "none", *(runs.alternative_mode(name) for name in sorted(shared)))
    return (*plain, *(calm.calm_mode(m, probe) for probe in calm.probes(everyone) for m in plain))


class ProcessValues:
    """Each process's number in each mode, for one benchmark's comparison:
    the log of its median normalized sample (decide.process_value), None where
    a calm mode has too few calm rounds of it. The choice and the estimate
    need the same ones, at every look of a gate and of the study: each is
    computed once, the calm probes' levels once (bench.gate.calm)."""

    def __init__(self, benches: list[Benchmark]):
        self.benches = list(benches)  # held: the memo is by id
        self.levels = calm.levels(self.benches)
        self._memo: dict[tuple[int, str], float | None] = {}

    def __call__(self, bench: Benchmark, mode: str) -> float | None:
        key = (id(bench), mode)
        if key not in self._memo:
            kept = calm.samples(bench, mode, self.levels)
            self._memo[key] = None if kept is None else decide.process_value(kept)
        return self._memo[key]

    def of(self, benches: list[Benchmark], mode: str) -> list[float | None]:
        return [self(b, mode) for b in benches]


def judge(mode: str, base: list[Benchmark], candidate: list[Benchmark],
          pairs: list[tuple[Benchmark, Benchmark]] | None, estimator: Statistic,
          tail: float, threshold: float, values: ProcessValues | None = None) -> Estimate:
    """The estimate in one normalization: of the blocks' differences where the
    sides are paired, else of two independent samples; a process a calm mode
    has no value for (too few calm rounds) is left out, and its block with it."""
    values = values or ProcessValues([*base, *candidate])
    if pairs is not None:
        both = [(values(b, mode), values(c, mode)) for b, c in pairs]
        return estimator.paired(np.array([c - b for b, c in both
                                          if b is not None and c is not None]),
                                tail, threshold)
    before, after = (np.array([v for v in values.of(side, mode) if v is not None])
                     for side in (base, candidate))
    return estimator.unpaired(before, after, tail, threshold)


def choose(requested: str, base: list[Benchmark], candidate: list[Benchmark],
           pairs: list[tuple[Benchmark, Benchmark]] | None, estimator: Statistic,
           tail: float, values: ProcessValues | None = None) -> str:
    """The normalization a benchmark is judged by: of the choices, the one whose
    per-process values vary least within each side (pooled variance), weighed
    by what a mode that keeps fewer processes (a calm one) loses: x 1/n and
    x t^2 at this tail on the estimator's degrees of freedom for n, n the
    blocks it keeps (paired) or its smaller side. Variation within a side
    does not depend on the change between the sides, so the choice cannot
    favour a verdict; that it understates the spread a little, taken on the
    same processes, is bounded in tests/test_sequential.py."""
    choices = normalization_choices(requested, base, candidate)
    if len(choices) == 1:
        return choices[0]
    values = values or ProcessValues([*base, *candidate])

    def weight(mode: str) -> float:
        kept = [[v for v in values.of(side, mode) if v is not None] for side in (base, candidate)]
        if pairs is not None:
            n = sum(values(b, mode) is not None and values(c, mode) is not None for b, c in pairs)
        else:
            n = min(map(len, kept))
        if n < 3 or min(map(len, kept)) < 3:
            return math.inf
        pooled = (sum(np.var(side, ddof=1) * (len(side) - 1) for side in kept)
                  / (sum(map(len, kept)) - 2))
        return pooled / n * decide.t_quantile(estimator.df(n), 1 - tail) ** 2

    return min(choices, key=weight)


def threshold_for(base: Benchmark, candidate: Benchmark, default: float) -> float:
    """The benchmark's own gate_threshold (candidate's first), else the default."""
    for own in (candidate.gate_threshold, base.gate_threshold):
        if own is not None:
            return own
    return default


def _compare_benchmark(key: str, base: list[Run], candidate: list[Run], pairs, tail: float,
           settings: Settings) -> Row:
    base_runs = [run.benchmarks[key] for run in base if key in run.benchmarks]
    cand_runs = [run.benchmarks[key] for run in candidate if key in run.benchmarks]
    first_base, first_cand = base_runs[0], cand_runs[0]
    both = [(b.benchmarks[key], c.benchmarks[key]) for b, c in pairs or []
            if key in b.benchmarks and key in c.benchmarks]
    threshold = threshold_for(first_base, first_cand, settings.threshold)
    estimator = settings.estimator
    pairs_here = both if pairs is not None else None
    values = ProcessValues([*base_runs, *cand_runs])
    mode = choose(settings.normalize, base_runs, cand_runs, pairs_here, estimator, tail, values)
    estimate = judge(mode, base_runs, cand_runs, pairs_here, estimator, tail, threshold, values)
    references = {runs.reference_of(b, calm.split(mode)[0]) for b in [*base_runs, *cand_runs]}
    if len(references) > 1:
        # Ratios to different references say nothing about each other.
        return Row(key, Outcome.INCOMPARABLE, first_base, first_cand,
                   note=f"reference changed: {' -> '.join(sorted(map(str, references)))}")
    needs = None
    if estimate.measured:
        needs = (0 if estimate.mde <= settings.detect else
                 estimator.blocks_needed(estimate, tail, threshold, settings.detect))
    note = ""
    if not estimate.measured:
        note = ("one process per side cannot show the noise between processes: give "
                "several runs per side (python -m bench ab runs them)")
    dropped = sum(b.dropped for b in [*base_runs, *cand_runs])
    return Row(key, decide.verdict(estimate, threshold), first_base, first_cand, estimate,
               threshold, mode, needs, note, dropped)


def _judge_memory(key: str, base: list[Run], candidate: list[Run], settings: Settings
                  ) -> list[Row]:
    """A row per memory metric either side recorded for this benchmark."""
    base_runs = [run.benchmarks[key] for run in base if key in run.benchmarks]
    cand_runs = [run.benchmarks[key] for run in candidate if key in run.benchmarks]
    rows = []
    for metric in memory.metrics([*base_runs, *cand_runs]):
        before, after = memory.peaks(base_runs, metric), memory.peaks(cand_runs, metric)
        if before is None or after is None:
            rows.append(Row(key, Outcome.INCOMPARABLE, base_runs[0], cand_runs[0], metric=metric,
                            note=f"{metric} measured on one side only (memray missing?)"))
            continue
        change = MemoryChange(before, after)
        rows.append(Row(key, memory.verdict(change, settings.memory_tolerance,
                                            settings.memory_floor),
                        base_runs[0], cand_runs[0], metric=metric, memory=change))
    return rows


def undecided_metrics(rows: list[Row], settings: Settings) -> list[str]:
    """The metrics asked for that no row could judge: time from one process a
    side; memory when no run recorded it, if memory alone was asked for."""
    judged = {TIME if row.metric == TIME else memory.HOST
              for row in rows if row.outcome in decide.JUDGED}
    wanted = [m for m in settings.metrics
              if m == TIME or settings.metrics == (memory.HOST,)
              or any(row.metric != TIME for row in rows)]
    return [m for m in wanted if m not in judged]


def exit_code(rows: list[Row], settings: Settings = Settings()) -> Exit:
    """OK; REGRESSION of any metric (exactly a measured regression); USAGE when
    some benchmark was incomparable or a metric asked for could not be judged at
    all (never a silent pass): with one process a side memory is judged and
    time is not, so a clean memory result is USAGE unless only memory is asked
    for (Settings.metrics; --metric memory)."""
    outcomes = {row.outcome for row in rows}
    if Outcome.REGRESSED in outcomes:
        return Exit.REGRESSION
    if Outcome.INCOMPARABLE in outcomes or undecided_metrics(rows, settings):
        return Exit.USAGE
    return Exit.OK
