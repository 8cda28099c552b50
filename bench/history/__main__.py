"""Every benchmark across saved runs, with the changes in its level.

    python -m bench history [RUNS, DIRS or LOCATIONS ...] [--out reports/history] [--png]
                            [--storage .benchmarks]

RUNS are saved runs' ids as pytest-benchmark names them (0007), run files,
kept runs (`bench keep`: .parquet files), folders holding either or both,
or locations of kept runs for DuckDB: globs and URLs (s3://bucket/runs/*.parquet,
https://...); without any, every run saved for this machine under the
storage folder. Kept and saved runs give the same points; a saved run that
is also kept is read once. Per benchmark, a series over runs in commit order,
each point the run's median normalized time (normalized as the gate does)
with its exact interval; runs from different machines or environments are
never mixed: each machine gets its own series. A change is a new level that
lasts, moves across its boundary, is a step rather than a drift, and is
significant between the adjacent levels (the rule below;
bench/history/changes.py).

Writes OUT/history.md (the changes, newest first), OUT/history.json (the
changes: benchmark, run, commit, ratio, interval) and OUT/history.html (one
self-contained page: a chart per group, changes marked, hover for commit,
ratio and interval); with --png also a PNG per benchmark group of its newest
runs, shown in history.md, for a CI job summary. Exit status: 0 written
(changes or not); 2 no usable runs. Needs ruptures, matplotlib, pyarrow and
duckdb (the `history` extra).
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench import cli, runs, storage
from bench.exitcodes import Exit
from bench.runs import RunError

DEFAULT_OUT = Path("reports/history")


def sources(specs: list[str], storage_folder: str) -> tuple[list[str], list[Path]]:
    """(locations of kept runs for DuckDB, saved run files) that the specs name, or
    every run saved for this machine; RunError when none."""
    from .store import KEPT_SUFFIX, is_location

    if not specs:
        saved = storage.saved_runs(storage_folder)
        if not saved:
            raise RunError(f"no saved runs for this machine under {storage_folder}/: run the "
                           "benchmarks with --benchmark-autosave --benchmark-save-data first "
                           "(python -m bench run does), or name runs or folders")
        return [], saved
    kept: list[str] = []
    saved = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            inside = sorted(str(p) for p in path.glob(f"*{KEPT_SUFFIX}") if p.is_file())
            files = sorted(p for p in path.glob("*.json") if p.is_file())
            if not inside and not files:
                raise RunError(f"{path}: a folder with no saved runs (*.json) or kept runs "
                               f"(*{KEPT_SUFFIX}) in it")
            kept += inside
            saved += files
        elif is_location(spec):
            if "://" not in spec and not any(c in spec for c in "*?[") and not path.is_file():
                raise RunError(f"{path}: no such file")
            kept.append(spec)
        else:
            saved += storage.resolve(spec, storage_folder)
    return list(dict.fromkeys(kept)), list(dict.fromkeys(saved))


def run_paths(specs: list[str], storage_folder: str) -> list[Path]:
    """The saved run files the specs name (kept runs aside)."""
    return sources(specs, storage_folder)[1]


def saved_rows(saved: Iterable[runs.Run]):
    """The saved runs' kept rows, each run summarized in turn (its raw samples are not
    held longer), and how many benchmarks were left out for want of samples."""
    import pyarrow as pa

    from .kept import KEPT_SCHEMA, summarize

    tables, skipped = [], 0
    for run in saved:
        table, left_out = summarize(run)
        tables.append(table)
        skipped += left_out
    return (pa.concat_tables(tables) if tables else KEPT_SCHEMA.empty_table()), skipped


def load_saved(paths: list[Path], named: bool, faulty: list[tuple[str, int]]
               ) -> Iterator[runs.Run]:
    """The saved runs, loaded in turn. Runs named explicitly must load (RunError); of
    those found in storage, the empty, truncated and partial ones are skipped with a
    warning. Each run that lost rounds to clock faults adds (its id, how many) to faulty."""
    found = 0
    for path in paths:
        if named:
            run = runs.load(path)
            if run.partial:
                storage.warn(f"{run.source}: {storage.partial_note(run)}")
        else:
            whole = storage.usable([path])
            if not whole:
                continue
            run = whole[0]
        found += 1
        if run.dropped:
            faulty.append((run.id, run.dropped))
        yield run
    if paths and not found:
        raise RunError(f"none of the {len(paths)} saved run(s) is whole")


def rule_text() -> str:
    """The change rule with its numbers, from the constants that decide it."""
    from . import changes

    return textwrap.fill(
        f"The rule: a change is a level of at least {changes.MIN_RUNS} runs whose median "
        f"differs from that of the {changes.MIN_RUNS} runs before by at least "
        f"{changes.MIN_CHANGE * 100:g} %, fits better than a straight line, and has "
        f"Yuen's {(1 - changes.ALPHA) * 100:g} % interval of new / old level excluding 1.",
        width=78)


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m bench history", f"{__doc__}\n\n{rule_text()}")
    p.add_argument("runs", nargs="*", metavar="RUNS or DIRS",
                   help="saved runs: ids (0007), files or folders (default: every run saved "
                        "for this machine under --storage)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--png", action="store_true",
                   help="also a PNG per group of its newest runs (for a CI job summary; "
                        "history.html shows every run)")
    p.add_argument("--storage", default=str(storage.DEFAULT_STORAGE),
                   help="pytest-benchmark's storage folder (default .benchmarks)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        from .analyze import analyze_kept
        from .output import text, write
    except ImportError as exc:
        print(f"error: bench history needs the history extra (pip install -e '.[history]'): "
              f"{exc}", file=sys.stderr)
        return Exit.USAGE
    try:
        kept, saved = sources(args.runs, args.storage)
        faulty: list[tuple[str, int]] = []
        history = analyze_kept(kept, *saved_rows(load_saved(saved, bool(args.runs), faulty)))
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.USAGE
    print(text(history))
    if faulty:
        print(f"clock faults: {sum(n for _, n in faulty)} round(s) dropped (a time <= 0 "
              f"or not finite, with its paired half) in {len(faulty)} run(s): "
              f"{', '.join(run_id for run_id, _ in faulty)}")
    md, js, page, *plots = write(history, args.out, png=args.png)
    print(f"wrote {md}, {js}, {page}" + (f" and {len(plots)} plot(s)" if args.png else ""))
    return Exit.OK


if __name__ == "__main__":
    cli.exit_with(main, command="python -m bench history", extra="history")
