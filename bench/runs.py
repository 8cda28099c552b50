"""Load and validate saved pytest-benchmark runs for the regression gate.

A run usable by the gate was saved with --benchmark-save-data (so every
benchmark keeps its raw samples in stats.data) by the paired timing of
bench.timing (so extra_info carries reference_data, paired by index). Anything
else is refused with a message naming the file and what is missing: a gate
that passes because it could not read its input would be worse than none.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Fields that must agree between two runs for their timings to be comparable.
ENVIRONMENT_FIELDS = ("node", "machine", "cpu", "python", "torch", "threads", "timer")


# How a benchmark's samples are normalised by its reference before comparing:
# pair: each round's time / that round's reference time: cancels drift at the
#       scale of a round (a busy neighbour, a frequency change);
# run:  each time / the run's median reference time: cancels only a whole run
#       being faster or slower;
# none: raw times;
# auto: pair, unless the call lasts over MAX_PAIR_SPAN times its reference:
#       then none. A 7 µs reference after a 0.3 s Python loop samples too little
#       of the round to track its drift and only adds its own noise (bench.study
#       measured a 59 % run-to-run spread for three_loops paired, 2.5 % raw).
NORMALISATIONS = ("auto", "pair", "run", "none")
MAX_PAIR_SPAN = 100.0


def resolve(mode: str, baseline: Benchmark) -> str:
    """The normalisation used for one benchmark (auto decided on the baseline)."""
    if mode not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {mode!r}; expected one of {NORMALISATIONS}")
    if mode != "auto":
        return mode
    span = baseline.median / float(np.median(baseline.reference))
    return "none" if span > MAX_PAIR_SPAN else "pair"


class RunError(ValueError):
    """A saved run is missing, unreadable or lacks what the gate needs."""


@dataclass(frozen=True)
class Benchmark:
    """One benchmark of a run: samples of the benchmarked call and of its reference."""

    key: str            # fullname: stable across runs, unique within one
    samples: np.ndarray     # seconds per round of the benchmarked call
    reference: np.ndarray   # seconds per round of the reference, paired by index
    reference_name: str
    mean: float             # pytest-benchmark's own mean (what stock compare uses)
    threshold: float | None  # extra_info["gate_threshold"], if the benchmark sets one

    def normalised(self, mode: str) -> np.ndarray:
        """The samples the gate compares, by a resolved NORMALISATIONS mode."""
        if mode == "pair":
            return self.samples / self.reference
        if mode == "run":
            return self.samples / float(np.median(self.reference))
        if mode == "none":
            return self.samples
        raise ValueError(f"cannot normalise by {mode!r}; expected pair, run or none")

    @property
    def median(self) -> float:
        return float(np.median(self.samples))


@dataclass(frozen=True)
class Run:
    source: str
    environment: dict[str, str]
    benchmarks: dict[str, Benchmark]


def load(path: str | Path) -> Run:
    """Read and validate a saved run (pytest --benchmark-json / --benchmark-autosave)."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: no such file (save a run with pytest tests/benchmarks "
                       "--benchmark-enable --benchmark-save-data --benchmark-json=FILE)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{path}: not a readable JSON file ({exc})") from None
    return parse(document, str(path))


def parse(document: object, source: str = "<run>") -> Run:
    """Validate a run already decoded from JSON; source names it in errors."""
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise RunError(f"{source}: not a pytest-benchmark run (no 'benchmarks' list)")
    if not document["benchmarks"]:
        raise RunError(f"{source}: the run holds no benchmarks (were they run with "
                       "--benchmark-enable?)")
    benchmarks: dict[str, Benchmark] = {}
    for index, entry in enumerate(document["benchmarks"]):
        bench = _benchmark(entry, f"{source}: benchmarks[{index}]")
        if bench.key in benchmarks:
            raise RunError(f"{source}: benchmark {bench.key!r} appears twice")
        benchmarks[bench.key] = bench
    return Run(source, _environment(document), benchmarks)


def _benchmark(entry: object, where: str) -> Benchmark:
    if not isinstance(entry, dict):
        raise RunError(f"{where}: not an object")
    key = entry.get("fullname") or entry.get("name")
    if not isinstance(key, str):
        raise RunError(f"{where}: no fullname or name")
    where = f"{where.split(': ')[0]}: benchmark {key!r}"
    stats = entry.get("stats")
    extra = entry.get("extra_info")
    if not isinstance(stats, dict) or not isinstance(extra, dict):
        raise RunError(f"{where}: no stats or extra_info")
    if "data" not in stats:
        raise RunError(f"{where}: no raw samples (stats.data); save the run with "
                       "--benchmark-save-data")
    if "reference_data" not in extra:
        raise RunError(f"{where}: no extra_info.reference_data; it was not timed in "
                       "pairs with bench.timing.paired")
    samples = _positive_array(stats["data"], f"{where}: stats.data")
    reference = _positive_array(extra["reference_data"], f"{where}: extra_info.reference_data")
    if len(samples) != len(reference):
        raise RunError(f"{where}: {len(samples)} samples but {len(reference)} reference "
                       "samples; they must pair by index")
    threshold = extra.get("gate_threshold")
    if threshold is not None and not (_is_number(threshold) and threshold > 0):
        raise RunError(f"{where}: extra_info.gate_threshold must be a positive number, "
                       f"got {threshold!r}")
    mean = stats.get("mean")
    return Benchmark(
        key=key,
        samples=samples, reference=reference,
        reference_name=str(extra.get("reference", "?")),
        mean=float(mean) if _is_number(mean) else float(samples.mean()),
        threshold=float(threshold) if threshold is not None else None,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_array(values: object, where: str) -> np.ndarray:
    if not isinstance(values, list) or not values:
        raise RunError(f"{where}: expected a non-empty list of seconds")
    if not all(_is_number(v) for v in values):
        raise RunError(f"{where}: holds a value that is not a finite number")
    array = np.asarray(values, dtype=float)
    if (array <= 0).any():
        raise RunError(f"{where}: holds a time <= 0")
    return array


def _environment(document: dict) -> dict[str, str]:
    """What has to match for two runs to be comparable, as printable strings."""
    machine = document.get("machine_info") or {}
    cpu = machine.get("cpu") or {}
    entries = [e for e in document["benchmarks"] if isinstance(e, dict)]
    extras = [e.get("extra_info") or {} for e in entries]
    # torch and threads are per benchmark; one run normally has one value of each.
    torch_versions = sorted({str(x["torch"]) for x in extras if "torch" in x})
    threads = sorted({str(x["threads"]) for x in extras if "threads" in x})
    # Wall-clock and CPU-time runs (--benchmark-timer) measure different things.
    timers = sorted({str((e.get("options") or {}).get("timer", "?")) for e in entries})
    return {
        "node": str(machine.get("node", "?")),
        "machine": str(machine.get("machine", "?")),
        "cpu": f"{cpu.get('brand_raw', '?')} x{cpu.get('count', '?')}",
        "python": f"{machine.get('python_implementation', '?')} "
                  f"{machine.get('python_version', '?')}",
        "torch": ",".join(torch_versions) or "?",
        "threads": ",".join(threads) or "?",
        "timer": ",".join(timers) or "?",
    }


def differences(baseline: Run, candidate: Run) -> list[str]:
    """'field: baseline value != candidate value' for each environment field that differs."""
    return [f"{field}: {baseline.environment[field]!r} != {candidate.environment[field]!r}"
            for field in ENVIRONMENT_FIELDS
            if baseline.environment[field] != candidate.environment[field]]
