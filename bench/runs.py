"""Saved benchmark runs: the one model the suite writes and every tool reads.

A run is pytest-benchmark's JSON (`--benchmark-autosave`, `--benchmark-json`).
The suite's plugin stores in each benchmark's `extra_info` the fields of
`Workload` (what was timed), of `Environment` (where), the reference's name
and raw samples (`REFERENCE_DATA`) and, where it was measured, a `Memory`
record (`MEMORY`: what one call allocated); `load` reads them back as typed
records.
Report, gate, study and history read runs only through this module.

Raw samples (`stats.data`) are kept only with `--benchmark-save-data`; a run
without them still loads (the report needs only medians), and
`require_samples` refuses it, naming the file, where samples are needed.
"""
from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

# extra_info keys that are not fields of Workload or Environment.
REFERENCE_NAME = "reference"       # name of the reference timed in each round
REFERENCE_DATA = "reference_data"  # its seconds per round, paired by index with stats.data
# Other kinds of work timed in the same rounds, before the reference, in
# gate-ready runs (bench.suite.cases.alternative_references): {name: seconds
# per round}, each paired by index with stats.data like REFERENCE_DATA.
ALTERNATIVES = "alternative_reference_data"
GATE_THRESHOLD = "gate_threshold"  # the benchmark's own gate threshold (a marker sets it)
# Rounds dropped where they were timed: a clock fault (either half of the pair
# read <= 0 or not finite, e.g. a CPU-time read that did not advance).
DROPPED = "dropped_rounds"
# A benchmark that lost rounds to clock faults is refused below this many valid
# ones: its median would rest on too little.
MIN_VALID_ROUNDS = 5
# Top-level key of a run the suite saved without some of its benchmarks
# (interrupted, or failed): {"missing": [node ids], "reason": text}.
PARTIAL = "partial"
MEMORY = "memory"                  # a Memory record: what one untimed call allocated
RATES = ("gflops_per_s", "gbytes_per_s")  # for people reading the JSON; recomputed here


@dataclass(frozen=True)
class Workload:
    """What a benchmark timed: one call of `kernel` on `rows` rows.

    suite:  the family it belongs to: "matmul", "forward", "roofline",
            "tile_sweep" or "data".
    kernel: the registry kernel (or, for roofline and data benchmarks, what
            was timed: "read_x", "peak_gemm", "load_mnist").
    flops, bytes: the work and the compulsory memory traffic of one call.
    params: the kernel's parameters where a benchmark varies them (tile).
    shape:  the sizes beyond rows: the weights' (k, n) of a product, the
            layer sizes of a forward pass (empty in runs that predate it).
    summary: what the kernel did when the run was made (its docstring's
            first line; empty where unknown).
    """

    suite: str
    kernel: str
    rows: int
    flops: int
    bytes: int
    params: dict = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    summary: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))  # JSON gives a list


@dataclass(frozen=True)
class Environment:
    """Where a benchmark ran, recorded per benchmark by the suite's plugin."""

    torch: str
    threads: int
    device: str
    slowdown: float = 0.0  # MATMUL_BENCH_SLOWDOWN's injected fraction (0: real code)
    pinned_cpu: int | None = None  # the CPU the run was bound to (bench.suite.pinning)
    # OpenMP runtimes loaded (matmul.openmp): 1 when torch and numba share one
    # pool of threads, 2 when each has its own; None: not recorded.
    openmp_runtimes: int | None = None
    # Whether the process ran with the address-space layout fixed (ASLR off:
    # bench.suite.command.with_fixed_layout); None: not recorded.
    layout_fixed: bool | None = None


@dataclass(frozen=True)
class Memory:
    """What one untimed call of the benchmarked target allocated, measured after
    its timing (bench.suite.memory); stored as extra_info[MEMORY].

    peak_bytes:   host memory allocated during the call and live at its highest
                  point (memray), the call's output included; None without memray.
    allocations:  host allocator calls made during the call, frees included
                  (memray's count; it varies a little between processes, so
                  it is reported, not gated).
    output_bytes: the size of what the call returned (None: not tensors).
    device_peak_bytes: on CUDA, the device memory allocated during the call at
                  its highest, beyond what was allocated before it
                  (torch.cuda.max_memory_allocated); None elsewhere.
    """

    peak_bytes: int | None
    allocations: int | None
    output_bytes: int | None
    device_peak_bytes: int | None = None


# Machine fields that must agree for two runs' timings to be comparable.
MACHINE_FIELDS = ("node", "machine", "cpu", "gpu", "python", "torch", "threads", "timer")
# The same but the host's name: one kind of machine. A history follows runs of
# one kind, which on hosted CI is a fresh host of the same kind every time.
KIND_FIELDS = MACHINE_FIELDS[1:]


class RunError(ValueError):
    """A saved run is missing, unreadable or lacks what a tool needs."""


@dataclass(frozen=True)
class Benchmark:
    """One benchmark of a run."""

    key: str                    # pytest's fullname: stable across runs, unique within one
    name: str                   # the test's name with its parameters, e.g. test_matmul[einsum-rows5]
    group: str | None
    workload: Workload | None   # None for a benchmark the suite's plugin did not time
    environment: Environment | None
    reference_name: str | None
    samples: np.ndarray | None  # seconds per round (None: saved without --benchmark-save-data)
    reference: np.ndarray | None  # the reference's seconds per round, paired by index
    median: float               # pytest-benchmark's statistics of the benchmarked call
    mean: float
    min: float
    gate_threshold: float | None
    dropped: int = 0            # rounds dropped for clock faults (DROPPED), when timed or loaded
    memory: Memory | None = None  # None: not measured (memray missing, timing off, older run)
    alternatives: dict[str, np.ndarray] = field(default_factory=dict)  # ALTERNATIVES

    def normalized(self, mode: str) -> np.ndarray:
        """The samples a comparison uses, by a resolved NORMALIZATIONS mode or
        an alternative reference's (alternative_mode)."""
        if self.samples is None or self.reference is None:
            raise RunError(f"benchmark {self.key!r} has no raw samples")
        name = alternative_of(mode)
        if name is not None:
            if name not in self.alternatives:
                raise RunError(f"benchmark {self.key!r} has no alternative reference {name!r}")
            return self.samples / self.alternatives[name]
        if mode == "pair":
            return self.samples / self.reference
        if mode == "run":
            return self.samples / float(np.median(self.reference))
        if mode == "none":
            return self.samples
        raise ValueError(f"cannot normalize by {mode!r}; expected pair, run or none")

    @property
    def span(self) -> float:
        """How many times longer than its reference the benchmarked call takes."""
        if self.reference is None:
            raise RunError(f"benchmark {self.key!r} has no reference samples")
        return self.median / float(np.median(self.reference))


# How samples are normalized by the reference timed in the same run:
# pair: each round's time / that round's reference time: cancels drift at the
#       scale of a round (a busy neighbour, a frequency change);
# run:  each time / the run's median reference time;
# none: raw times;
# auto: pair, unless the call lasts over MAX_PAIR_SPAN times its reference:
#       then none. A reference of microseconds after a call of a tenth of a
#       second samples too little of the round to track its drift and only adds
#       its own noise.
NORMALIZATIONS = ("auto", "pair", "run", "none")
MAX_PAIR_SPAN = 100.0
NORMALIZATION_MEANING = {
    "pair": "paired = median(time / reference time of the same round)",
    "run": "per run = median(time) / median(reference time)",
    "none": "raw = median(time)",
}


# pair:NAME: each round's time / that round's time of the alternative
# reference NAME; only the gate's auto chooses one (bench.gate.compare).
ALTERNATIVE_PREFIX = "pair:"


def alternative_mode(name: str) -> str:
    return ALTERNATIVE_PREFIX + name


def alternative_of(mode: str) -> str | None:
    """The alternative reference a pair:NAME mode divides by, else None."""
    return mode[len(ALTERNATIVE_PREFIX):] if mode.startswith(ALTERNATIVE_PREFIX) else None


def reference_of(bench: Benchmark, mode: str) -> str | None:
    """The name of the reference a mode divides by (None for raw times)."""
    alternative = alternative_of(mode)
    if alternative is not None:
        return alternative
    return None if mode == "none" else bench.reference_name


def normalization_meaning(mode: str) -> str:
    name = alternative_of(mode)
    if name is not None:
        return f"paired by {name} = median(time / that alternative reference's time in the same round)"
    return NORMALIZATION_MEANING[mode]


def resolve_normalization(mode: str, baseline: Benchmark) -> str:
    """The normalization used for one benchmark (auto is decided on the baseline)."""
    if mode not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {mode!r}; expected one of {NORMALIZATIONS}")
    if mode != "auto":
        return mode
    return auto_normalization(baseline.span)


def auto_normalization(span: float) -> str:
    """What auto means for a benchmark whose call lasts `span` times its reference."""
    return "none" if span > MAX_PAIR_SPAN else "pair"


@dataclass(frozen=True)
class Commit:
    """commit_info of a run, as pytest-benchmark records it."""

    id: str | None
    time: str | None
    dirty: bool
    branch: str | None


@dataclass(frozen=True)
class Run:
    """One saved run: one pytest process."""

    source: Path
    machine: dict[str, str]     # MACHINE_FIELDS -> printable value
    commit: Commit
    datetime: str | None
    benchmarks: dict[str, Benchmark]
    missing: tuple[str, ...] = ()  # benchmarks its suite defines that it lacks (PARTIAL)
    partial_reason: str = ""

    @property
    def id(self) -> str:
        """The saved run's id as pytest-benchmark names it: its file name stem."""
        return self.source.stem

    @property
    def partial(self) -> bool:
        return bool(self.missing)

    @property
    def dropped(self) -> int:
        """Rounds dropped for clock faults, over every benchmark."""
        return sum(b.dropped for b in self.benchmarks.values())


# ---------------------------------------------------------------- writing

def extra_info(workload: Workload, environment: Environment, reference_name: str,
               reference_samples: list[float] | None, dropped: int = 0,
               memory: Memory | None = None,
               alternatives: dict[str, list[float]] | None = None) -> dict:
    """The extra_info the suite stores for one benchmark (see `Benchmark`)."""
    info = {**asdict(workload), **asdict(environment), REFERENCE_NAME: reference_name}
    for optional in ("params", "shape", "summary"):
        if not info[optional]:
            del info[optional]
    if reference_samples is not None:
        info[REFERENCE_DATA] = list(reference_samples)
        info[DROPPED] = dropped
        if alternatives:
            info[ALTERNATIVES] = {name: list(times) for name, times in alternatives.items()}
    if memory is not None:
        info[MEMORY] = asdict(memory)
    return info


def valid_times(seconds) -> np.ndarray:
    """Which timed halves are usable: a clock fault reads <= 0 or not finite."""
    array = np.asarray(seconds, dtype=float)
    return np.isfinite(array) & (array > 0)


def valid_rounds(*series) -> np.ndarray:
    """Which rounds are usable: those in which no series (the target's times, each
    reference's, paired by index) holds a clock fault."""
    keep = valid_times(series[0])
    for seconds in series[1:]:
        keep &= valid_times(seconds)
    return keep


def too_few_rounds(where: str, valid: int, total: int) -> str:
    """The message refusing a benchmark that clock faults left too few rounds."""
    return (f"{where}: only {valid} of {total} rounds left after dropping {total - valid} "
            f"clock fault(s) (a time <= 0 or not finite); at least {MIN_VALID_ROUNDS} needed")


# ---------------------------------------------------------------- reading

def load(path: str | Path) -> Run:
    """Read a saved run and check its structure; RunError names the file and the fault."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: no such file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{path}: not a readable JSON file ({exc})") from None
    return parse(document, path)


def parse(document: object, source: str | Path = "<run>") -> Run:
    """A run already decoded from JSON; `source` names it in errors."""
    source = Path(source)
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise RunError(f"{source}: not a pytest-benchmark run (no 'benchmarks' list)")
    if not document["benchmarks"]:
        raise RunError(f"{source}: the run holds no benchmarks (were they timed?)")
    benchmarks: dict[str, Benchmark] = {}
    for index, entry in enumerate(document["benchmarks"]):
        bench = _benchmark(entry, f"{source}: benchmarks[{index}]")
        if bench.key in benchmarks:
            raise RunError(f"{source}: benchmark {bench.key!r} appears twice")
        benchmarks[bench.key] = bench
    commit = document.get("commit_info") or {}
    if not isinstance(commit, dict):
        raise RunError(f"{source}: commit_info is not an object")
    partial = document.get(PARTIAL) or {}
    if not isinstance(partial, dict) or not isinstance(partial.get("missing", []), list):
        raise RunError(f"{source}: {PARTIAL} must be an object with a 'missing' list")
    return Run(source=source, machine=_machine(document, source),
               commit=Commit(id=_text(commit.get("id")), time=_text(commit.get("time")),
                             dirty=bool(commit.get("dirty")), branch=_text(commit.get("branch"))),
               datetime=_text(document.get("datetime")), benchmarks=benchmarks,
               missing=tuple(map(str, partial.get("missing", []))),
               partial_reason=str(partial.get("reason", "")))


def require_samples(run: Run) -> None:
    """Raise RunError unless every benchmark kept its raw samples and paired reference."""
    for bench in run.benchmarks.values():
        where = f"{run.source}: benchmark {bench.key!r}"
        if bench.samples is None:
            raise RunError(f"{where}: no raw samples (stats.data); save the run with "
                           "--benchmark-save-data")
        if bench.reference is None:
            raise RunError(f"{where}: no extra_info.{REFERENCE_DATA}; it was not timed in "
                           "pairs by the suite's plugin")


def differences(first: Run, second: Run) -> list[str]:
    """'field: first value != second value' for each machine field that differs."""
    return [f"{name}: {first.machine[name]!r} != {second.machine[name]!r}"
            for name in MACHINE_FIELDS if first.machine[name] != second.machine[name]]


def _benchmark(entry: object, where: str) -> Benchmark:
    if not isinstance(entry, dict):
        raise RunError(f"{where}: not an object")
    key = entry.get("fullname") or entry.get("name")
    if not isinstance(key, str):
        raise RunError(f"{where}: no fullname or name")
    where = f"{where.split(': ')[0]}: benchmark {key!r}"
    stats, extra = entry.get("stats"), entry.get("extra_info")
    if not isinstance(stats, dict) or not isinstance(extra, dict):
        raise RunError(f"{where}: no stats or extra_info")
    samples = (_time_array(stats["data"], f"{where}: stats.data")
               if "data" in stats else None)
    reference = (_time_array(extra[REFERENCE_DATA], f"{where}: extra_info.{REFERENCE_DATA}")
                 if REFERENCE_DATA in extra else None)
    if samples is not None and reference is not None and len(samples) != len(reference):
        raise RunError(f"{where}: {len(samples)} samples but {len(reference)} reference "
                       "samples; they must pair by index")
    alternatives = _alternatives(extra.get(ALTERNATIVES, {}), samples, where)
    saved_drops = extra.get(DROPPED, 0)
    if not (isinstance(saved_drops, int) and not isinstance(saved_drops, bool)
            and saved_drops >= 0):
        raise RunError(f"{where}: extra_info.{DROPPED} must be a count, got {saved_drops!r}")
    # A run saved before faults were dropped where they arise (or edited): drop
    # each faulty round here, with its paired half.
    faults = 0
    if samples is not None:
        keep = valid_rounds(samples, *([] if reference is None else [reference]),
                            *alternatives.values())
        faults = int((~keep).sum())
        if faults:
            if keep.sum() < MIN_VALID_ROUNDS:
                raise RunError(too_few_rounds(where, int(keep.sum()), len(samples)))
            samples = samples[keep]
            reference = reference[keep] if reference is not None else None
            alternatives = {name: times[keep] for name, times in alternatives.items()}
            stats = {}  # pytest-benchmark's statistics included the faults
    elif reference is not None and not valid_times(reference).all():
        raise RunError(f"{where}: extra_info.{REFERENCE_DATA} holds a time <= 0 or not finite, "
                       "and without stats.data its pair cannot be dropped")
    threshold = extra.get(GATE_THRESHOLD)
    if threshold is not None and not (_is_number(threshold) and 0 < threshold < 1):
        raise RunError(f"{where}: extra_info.{GATE_THRESHOLD} must be a fraction in (0, 1), "
                       f"got {threshold!r}")
    median = _statistic(stats, "median", samples, np.median, where)
    return Benchmark(
        key=key, name=str(entry.get("name", key)), group=_text(entry.get("group")),
        workload=_record(Workload, extra, where), environment=_record(Environment, extra, where),
        reference_name=_text(extra.get(REFERENCE_NAME)),
        samples=samples, reference=reference,
        median=median, mean=_statistic(stats, "mean", samples, np.mean, where),
        min=_statistic(stats, "min", samples, np.min, where),
        gate_threshold=float(threshold) if threshold is not None else None,
        dropped=saved_drops + faults,
        memory=_memory(extra.get(MEMORY), f"{where}: extra_info.{MEMORY}"),
        alternatives=alternatives,
    )


def _alternatives(value: object, samples: np.ndarray | None, where: str) -> dict[str, np.ndarray]:
    """ALTERNATIVES read back: each a time per round, paired with the samples."""
    if not isinstance(value, dict):
        raise RunError(f"{where}: extra_info.{ALTERNATIVES} must be an object of name: times")
    result = {}
    for name, times in value.items():
        array = _time_array(times, f"{where}: extra_info.{ALTERNATIVES}.{name}")
        if samples is None or len(array) != len(samples):
            raise RunError(f"{where}: extra_info.{ALTERNATIVES}.{name} has {len(array)} times "
                           f"for {0 if samples is None else len(samples)} samples; they must "
                           "pair by index")
        result[str(name)] = array
    return result


def _memory(value: object, where: str) -> Memory | None:
    """The Memory record stored by the suite: every field a count of bytes or
    allocations (>= 0) or null."""
    if value is None:
        return None
    names = [f.name for f in fields(Memory)]
    if not isinstance(value, dict) or set(value) - set(names):
        raise RunError(f"{where}: expected an object with fields {', '.join(names)}")
    for name, count in value.items():
        if count is not None and not (isinstance(count, int) and not isinstance(count, bool)
                                      and count >= 0):
            raise RunError(f"{where}.{name}: expected a count >= 0 or null, got {count!r}")
    return Memory(**{name: value.get(name) for name in names})


def _record(cls, extra: dict, where: str):
    """cls built from extra_info; None when some of its fields were not stored
    (a benchmark timed by another plugin, or by an older version of this one)."""
    names = [f.name for f in fields(cls)]
    required = [f.name for f in fields(cls)
                if f.default is MISSING and f.default_factory is MISSING]
    if not all(name in extra for name in required):
        return None
    try:
        return cls(**{name: extra[name] for name in names if name in extra})
    except TypeError as exc:
        raise RunError(f"{where}: extra_info does not fit {cls.__name__} ({exc})") from None


def _statistic(stats: dict, name: str, samples, compute, where: str) -> float:
    value = stats.get(name)
    if _is_number(value) and value > 0:
        return float(value)
    if samples is not None:
        return float(compute(samples))
    raise RunError(f"{where}: stats.{name} is missing or not a positive number")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _time_array(values: object, where: str) -> np.ndarray:
    """Seconds per round; a number <= 0 or not finite is a clock fault, kept for
    the caller to drop with its pair; anything else is an error."""
    if not isinstance(values, list) or not values:
        raise RunError(f"{where}: expected a non-empty list of seconds")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise RunError(f"{where}: holds a value that is not a number")
    return np.asarray(values, dtype=float)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _machine(document: dict, source: Path) -> dict[str, str]:
    """What has to match for two runs to be comparable, as printable strings."""
    machine = document.get("machine_info") or {}
    if not isinstance(machine, dict):
        raise RunError(f"{source}: machine_info is not an object")
    cpu = machine.get("cpu") or {}
    if not isinstance(cpu, dict) or not isinstance(machine.get("gpu") or {}, dict):
        raise RunError(f"{source}: machine_info.cpu and .gpu must be objects, as "
                       "pytest-benchmark writes them")
    entries = [e for e in document["benchmarks"] if isinstance(e, dict)]
    extras = [e.get("extra_info") or {} for e in entries]
    # torch and threads are per benchmark; one run normally has one value of each.
    torch_versions = sorted({str(x["torch"]) for x in extras if "torch" in x})
    threads = sorted({str(x["threads"]) for x in extras if "threads" in x})
    # Wall-clock and CPU-time runs (--benchmark-timer) measure different things.
    timers = sorted({str((e.get("options") or {}).get("timer", "?")) for e in entries})
    gpu = machine.get("gpu") or {}
    return {
        "node": str(machine.get("node", "?")),
        "machine": str(machine.get("machine", "?")),
        "cpu": f"{cpu.get('brand_raw', '?')} x{cpu.get('count', '?')}",
        "gpu": (f"{gpu.get('name', '?')} (driver {gpu.get('driver', '?')}, "
                f"CUDA {gpu.get('cuda', '?')})" if gpu else "none"),
        "python": f"{machine.get('python_implementation', '?')} "
                  f"{machine.get('python_version', '?')}",
        "torch": ",".join(torch_versions) or "?",
        "threads": ",".join(threads) or "?",
        "timer": ",".join(timers) or "?",
    }

