"""Every benchmark across saved runs, with the changes in its level.

    python -m bench history [RUNS or DIRS ...] [--out reports/history] [--storage .benchmarks]

RUNS are saved runs' ids as pytest-benchmark names them (0007), run files or
folders of runs; without any, every run saved for this machine under the
storage folder. Per benchmark, a series over runs in commit order, each point
the run's median normalized time (normalized as the gate does) with its exact
interval; runs from different machines or environments are never mixed: each
machine gets its own series. A change is a new level that lasts at least 3
runs, moves by at least 5 % across its boundary, is a step rather than a
drift, and is significant between the adjacent levels (bench/history/changes.py).

Writes OUT/history.md (the changes, newest first, then a trend plot per
group), OUT/history.json (the changes: benchmark, run, commit, ratio,
interval) and a PNG per benchmark group. Exit status: 0 written (changes or
not); 2 no usable runs. Needs ruptures and matplotlib (the `history` extra).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench import cli, runs, storage
from bench.runs import RunError

from .analyze import analyze
from .output import text, write

DEFAULT_OUT = Path("reports/history")


def run_paths(specs: list[str], storage_folder: str) -> list[Path]:
    """The runs named, or every run saved for this machine; RunError when none."""
    if specs:
        paths = [p for spec in specs for p in storage.resolve(spec, storage_folder)]
        return list(dict.fromkeys(paths))
    saved = storage.saved_runs(storage_folder)
    if not saved:
        raise RunError(f"no saved runs for this machine under {storage_folder}/: run the "
                       "benchmarks with --benchmark-autosave --benchmark-save-data first "
                       "(python -m bench run does), or name runs or folders")
    return saved


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m bench history", __doc__)
    p.add_argument("runs", nargs="*", metavar="RUNS or DIRS",
                   help="saved runs: ids (0007), files or folders (default: every run saved "
                        "for this machine under --storage)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--storage", default=str(storage.DEFAULT_STORAGE),
                   help="pytest-benchmark's storage folder (default .benchmarks)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        history = analyze([runs.load(p) for p in run_paths(args.runs, args.storage)])
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(text(history))
    md, js, *plots = write(history, args.out)
    print(f"wrote {md}, {js} and {len(plots)} plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
