"""Regression gate: compare a candidate benchmark run with a baseline run.

    python -m bench.gate BASELINE.json CANDIDATE.json [--threshold 0.05]
        [--small-threshold 0.10] [--confidence 0.99] [--run-noise 0.015]
        [--normalise auto|pair|run|none] [--allow-different-machine]
        [--markdown OUT.md]

Both runs are pytest-benchmark JSON saved with --benchmark-save-data by the
paired timing of bench.timing (bench.runs validates them). Per benchmark the
gate compares the median of its normalised samples (by default each round's
time / the reference time of the same round, see bench.runs.NORMALISATIONS):
ratio = median(candidate) / median(baseline), with a bootstrap interval
widened by the noise between runs (bench.stats). Then criterion.rs's rule:
"regressed" only when the whole interval lies above +threshold, "improved"
only when it lies below -threshold, else "no change". A benchmark's own
threshold is extra_info["gate_threshold"] (a marker can set it), else
--threshold, or --small-threshold for calls under 10 µs.

Exit status: 0 no regression; 1 at least one regression; 2 unusable input
(missing or corrupt run, benchmarks that cannot be compared, nothing in
common); 3 refused: the runs come from different machines or environments
(--allow-different-machine overrides).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import runs, stats
from .runs import Run, RunError
from .units import format_time

# Defaults calibrated by bench.study on the shared 2-core dev machine (README,
# "Regression gate"). With a 99 % interval widened by RUN_NOISE, the rule needs
# an observed change of about THRESHOLD + 4 % to call a regression: a 10 %
# slowdown clears it, the run-to-run spread of unchanged code (<= 1 % for most
# paired benchmarks, 2.6 % for the worst) does not.
THRESHOLD = 0.05
# Under SMALL_TIME a timer call (~0.1 µs wall, ~1 µs CPU time) and interpreter
# jitter are a sizeable share of the call: these get the wider threshold.
SMALL_THRESHOLD = 0.10
SMALL_TIME = 10e-6
CONFIDENCE = 0.99
# Relative spread of the compared median between runs of unchanged code, which
# no single run shows (memory layout, cache and frequency state of a process).
RUN_NOISE = 0.015
NORMALISE = "auto"

NEW, REMOVED, INCOMPARABLE = "new", "removed", "incomparable"
EXIT_OK, EXIT_REGRESSION, EXIT_BAD_INPUT, EXIT_REFUSED = 0, 1, 2, 3


class RefusedError(RunError):
    """The two runs were measured on different machines or environments."""


@dataclass(frozen=True)
class Verdict:
    """One row of the gate's report."""

    key: str
    verdict: str
    baseline: runs.Benchmark | None = None
    candidate: runs.Benchmark | None = None
    interval: stats.Interval | None = None
    threshold: float | None = None
    normalised: str | None = None   # pair, run or none: what the interval compares
    note: str = ""


def compare(baseline: Run | dict, candidate: Run | dict, *,
            threshold: float = THRESHOLD, small_threshold: float = SMALL_THRESHOLD,
            confidence: float = CONFIDENCE, run_noise: float = RUN_NOISE,
            normalise: str = NORMALISE,
            allow_different_machine: bool = False) -> list[Verdict]:
    """A verdict per benchmark of either run, baseline's order first, then new ones.

    Runs may be given as decoded JSON (dicts) or as bench.runs.Run. Raises
    RunError for an unusable run, RefusedError for runs that are not comparable.
    """
    baseline = baseline if isinstance(baseline, Run) else runs.parse(baseline, "baseline")
    candidate = candidate if isinstance(candidate, Run) else runs.parse(candidate, "candidate")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if normalise not in runs.NORMALISATIONS:
        raise ValueError(f"normalise must be one of {runs.NORMALISATIONS}, got {normalise!r}")
    differing = runs.differences(baseline, candidate)
    if differing and not allow_different_machine:
        raise RefusedError(
            f"refusing to compare {baseline.source} with {candidate.source}: they were "
            f"measured on different machines or environments ({'; '.join(differing)}). "
            "Timings from different setups differ by more than any regression worth "
            "catching; rerun both on one machine, or pass --allow-different-machine.")

    verdicts = []
    for key, base in baseline.benchmarks.items():
        cand = candidate.benchmarks.get(key)
        if cand is None:
            verdicts.append(Verdict(key, REMOVED, baseline=base))
            continue
        verdicts.append(_judge(base, cand, threshold, small_threshold, confidence, run_noise,
                               normalise))
    verdicts += [Verdict(key, NEW, candidate=cand)
                 for key, cand in candidate.benchmarks.items()
                 if key not in baseline.benchmarks]
    return verdicts


def threshold_for(base: runs.Benchmark, cand: runs.Benchmark,
                  threshold: float, small_threshold: float) -> float:
    """The benchmark's own gate_threshold (candidate's first), else by its size."""
    for own in (cand.threshold, base.threshold):
        if own is not None:
            return own
    return small_threshold if base.median < SMALL_TIME else threshold


def _judge(base: runs.Benchmark, cand: runs.Benchmark, threshold: float,
           small_threshold: float, confidence: float, run_noise: float,
           normalise: str) -> Verdict:
    mode = runs.resolve(normalise, base)
    if mode != "none" and base.reference_name != cand.reference_name:
        # Ratios to different references say nothing about each other.
        return Verdict(base.key, INCOMPARABLE, base, cand,
                       note=f"reference changed: {base.reference_name} -> "
                            f"{cand.reference_name}")
    limit = threshold_for(base, cand, threshold, small_threshold)
    interval = stats.ratio_interval(base.normalised(mode), cand.normalised(mode),
                                    confidence=confidence, seed=stats.seed_for(base.key),
                                    run_noise=run_noise)
    return Verdict(base.key, stats.verdict(interval, limit), base, cand, interval, limit, mode)


def exit_code(verdicts: list[Verdict]) -> int:
    kinds = {v.verdict for v in verdicts}
    if stats.REGRESSED in kinds:
        return EXIT_REGRESSION
    if INCOMPARABLE in kinds or not kinds & {stats.REGRESSED, stats.IMPROVED, stats.NO_CHANGE}:
        return EXIT_BAD_INPUT  # never a silent pass on nothing compared
    return EXIT_OK


# ---------------------------------------------------------------- report

COLUMNS = ("benchmark", "baseline", "candidate", "change [interval]", "threshold", "verdict")


def rows(verdicts: list[Verdict]) -> list[tuple[str, ...]]:
    names = _short_names([v.key for v in verdicts])
    table = []
    for v in verdicts:
        if v.interval is not None:
            iv = v.interval
            change = f"{_pct(iv.ratio - 1)} [{_pct(iv.low - 1)}, {_pct(iv.high - 1)}]"
        else:
            change = v.note or "-"
        limit = (f"±{v.threshold * 100:g} % {_SHORT[v.normalised]}"
                 if v.threshold is not None else "-")
        table.append((names[v.key], _cell(v.baseline), _cell(v.candidate), change, limit,
                      v.verdict.upper() if v.verdict == stats.REGRESSED else v.verdict))
    return table


_SHORT = {"pair": "paired", "run": "per run", "none": "raw"}
_MEANING = {
    "pair": "paired = median(time / reference time of the same round)",
    "run": "per run = median(time) / median(reference time)",
    "none": "raw = median(time)",
}


def summary(verdicts: list[Verdict], confidence: float) -> str:
    counts = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    order = (stats.REGRESSED, stats.IMPROVED, stats.NO_CHANGE, NEW, REMOVED, INCOMPARABLE)
    parts = [f"{counts[k]} {k}" for k in order if counts.get(k)]
    used = sorted({v.normalised for v in verdicts if v.normalised}, key=list(_SHORT).index)
    meaning = "; ".join(_MEANING[m] for m in used) or "-"
    return (f"{', '.join(parts) or 'no benchmarks'}. Change: candidate over baseline of "
            f"{meaning}; [{confidence * 100:g} % interval].")


def text_table(verdicts: list[Verdict], confidence: float = CONFIDENCE) -> str:
    table = [COLUMNS] + rows(verdicts)
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ["", summary(verdicts, confidence)])


def markdown_table(verdicts: list[Verdict], baseline: Run | None = None,
                   candidate: Run | None = None, confidence: float = CONFIDENCE) -> str:
    lines = ["## Benchmark regression gate", ""]
    if baseline is not None and candidate is not None:
        env = ", ".join(f"{k} {candidate.environment[k]}" for k in runs.ENVIRONMENT_FIELDS)
        lines += [f"Baseline `{baseline.source}`, candidate `{candidate.source}` ({env}).", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join(" --- " for _ in COLUMNS) + "|")
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
              for row in rows(verdicts)]
    return "\n".join(lines + ["", summary(verdicts, confidence), ""])


def _short_names(keys: list[str]) -> dict[str, str]:
    """The part after '::' where that is unambiguous, else the full name."""
    short = {k: k.rpartition("::")[2] for k in keys}
    seen: dict[str, int] = {}
    for name in short.values():
        seen[name] = seen.get(name, 0) + 1
    return {k: (s if seen[s] == 1 else k) for k, s in short.items()}


def _pct(fraction: float) -> str:
    return f"{fraction * 100:+.1f} %"


def _cell(bench: runs.Benchmark | None) -> str:
    """Median time, and the median ratio to the reference that the gate compares."""
    if bench is None:
        return "-"
    ratio = bench.median / float(np.median(bench.reference))
    shown = f"{ratio:,.0f}" if ratio >= 1000 else f"{ratio:.3g}"
    return f"{format_time(bench.median)} ({shown}x {bench.reference_name})"


# ---------------------------------------------------------------- command line

def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.gate",
        description="Compare a candidate benchmark run with a baseline run; exit 1 on "
                    "any regression, 2 on unusable input, 3 if the runs come from "
                    "different machines.")
    p.add_argument("baseline", help="saved run (pytest --benchmark-json, --benchmark-save-data)")
    p.add_argument("candidate", help="saved run to judge against the baseline")
    p.add_argument("--threshold", type=_fraction, default=THRESHOLD,
                   help=f"noise threshold for benchmarks of {SMALL_TIME * 1e6:g} µs or more "
                        f"(default {THRESHOLD}); extra_info['gate_threshold'] overrides it")
    p.add_argument("--small-threshold", type=_fraction, default=SMALL_THRESHOLD,
                   help=f"noise threshold under {SMALL_TIME * 1e6:g} µs (default {SMALL_THRESHOLD})")
    p.add_argument("--confidence", type=_fraction, default=CONFIDENCE,
                   help=f"confidence of the interval (default {CONFIDENCE})")
    p.add_argument("--run-noise", type=_fraction, default=RUN_NOISE,
                   help="relative spread between runs of unchanged code that widens every "
                        f"interval (default {RUN_NOISE}, measured by bench.study)")
    p.add_argument("--normalise", choices=runs.NORMALISATIONS, default=NORMALISE,
                   help="how samples are normalised by the reference timed in the same run "
                        f"(default {NORMALISE}: paired, or raw for calls over "
                        f"{runs.MAX_PAIR_SPAN:g}x their reference; see bench.runs)")
    p.add_argument("--allow-different-machine", action="store_true",
                   help="compare even if node, machine, cpu, python, torch, threads or "
                        "timer differ")
    p.add_argument("--markdown", metavar="OUT.md", help="also write the report as markdown")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)  # usage errors exit 2 through argparse
    if args.confidence == 0:
        print("error: --confidence must be above 0", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        baseline = runs.load(args.baseline)
        candidate = runs.load(args.candidate)
        verdicts = compare(baseline, candidate, threshold=args.threshold,
                           small_threshold=args.small_threshold, confidence=args.confidence,
                           run_noise=args.run_noise, normalise=args.normalise,
                           allow_different_machine=args.allow_different_machine)
    except RefusedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    differing = runs.differences(baseline, candidate)
    if differing:
        print(f"warning: comparing across environments ({'; '.join(differing)})",
              file=sys.stderr)
    print(text_table(verdicts, args.confidence))
    if args.markdown:
        Path(args.markdown).write_text(
            markdown_table(verdicts, baseline, candidate, args.confidence), encoding="utf-8")
    code = exit_code(verdicts)
    if code == EXIT_BAD_INPUT:
        print("error: nothing could be compared" if not any(v.interval for v in verdicts)
              else "error: some benchmarks could not be compared (see table)",
              file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
