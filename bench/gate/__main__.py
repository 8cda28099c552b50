"""The regression gate on saved runs.

    python -m bench.gate BASE CANDIDATE [--storage .benchmarks] [--markdown OUT.md]
        [--json OUT.json] [gate options: --threshold, --alpha, --detect, --normalize,
        --statistic, --metric all|time|memory, --allow-different-machine]

BASE and CANDIDATE each name gate-ready runs (bench.suite.command): a saved
run's id as pytest-benchmark names it (0001), a run file, a folder of runs
(one per process, as `python -m bench ab` writes), or several of these joined
by commas. A time verdict needs at least two processes per side: the spread
between processes is measured, never assumed. Memory (each call's peak
allocation, where the runs recorded it: bench.gate.memory) is decided from
one process a side.

Exit status: 0 no regression; 1 a regression (of time or of memory); 2
unusable input (a missing, corrupt or ungated run, a baseline with an
injected slowdown), or a metric that could not be judged: with one run a
side memory is decided and time is not, so that exits 2 unless memory
regressed (1), and `--metric memory` exits 0 when memory did not regress;
3 refused: runs from different machines or environments.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench import cli, runs, storage
from bench.exitcodes import Exit
from bench.runs import Run

from . import output
from .compare import RefusedError, compare, exit_code, undecided_metrics
from .options import add_gate_arguments, settings_from


def load_side(spec: str, storage_folder: str) -> list[Run]:
    """Every run one side names (see the module's help), loaded."""
    paths = [p for part in spec.split(",") if part for p in storage.resolve(part, storage_folder)]
    loaded = [runs.load(p) for p in dict.fromkeys(paths)]
    for run in loaded:
        if run.partial:
            storage.warn(f"{run.source}: {storage.partial_note(run)}")
    return loaded


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m bench.gate", __doc__)
    p.add_argument("base", help="the baseline's runs: id(s), file(s) or a folder")
    p.add_argument("candidate", help="the candidate's runs, named the same ways")
    p.add_argument("--storage", default=str(storage.DEFAULT_STORAGE),
                   help="pytest-benchmark's storage folder, for run ids (default .benchmarks)")
    p.add_argument("--markdown", type=Path, metavar="OUT.md", help="also write the report as markdown")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="also write the findings as JSON")
    add_gate_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)  # usage errors exit 2 through argparse
    try:
        settings = settings_from(args)
        base = load_side(args.base, args.storage)
        candidate = load_side(args.candidate, args.storage)
        rows = compare(base, candidate, settings)
    except RefusedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.INCOMPARABLE
    except ValueError as exc:  # RunError (an unusable run) or a bad setting
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE
    differing = sorted({d for run in [*base[1:], *candidate] for d in runs.differences(base[0], run)})
    if differing:
        print(f"warning: comparing across environments ({'; '.join(differing)})", file=sys.stderr)
    print(output.text_table(rows, settings))
    header = (f"Base: {len(base)} run(s) from `{args.base}`; candidate: {len(candidate)} "
              f"run(s) from `{args.candidate}`; {base[0].machine['cpu']}.")
    try:
        output.write(rows, settings, args.markdown, args.json, header)
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return Exit.USAGE
    code = exit_code(rows, settings)
    if code == Exit.USAGE:
        undecided = undecided_metrics(rows, settings)
        decided = [m for m in settings.metrics if m not in undecided]
        if decided:
            print(f"error: {' and '.join(undecided)} undecided ({' and '.join(decided)}: no "
                  "regression); one run a side cannot judge time: give several, or pass "
                  "--metric memory", file=sys.stderr)
        else:
            print("error: nothing could be judged, or some benchmarks could not be compared "
                  "(see the table)", file=sys.stderr)
    return code


if __name__ == "__main__":
    cli.exit_with(main, command="python -m bench.gate", extra="gate")
