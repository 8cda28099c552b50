"""Keep saved runs in their compact form: what `bench history` reads, and no more.

    python -m bench keep [RUN ...] --into DIR [--pack N] [--storage .benchmarks]

RUN is a saved run's id (0007), a run file or a folder of runs, as for
`bench history`. Each becomes DIR/<its id>.parquet: one row per benchmark
with its normalized medians and their intervals, sample count, workload,
environment, machine fields, commit and time (bench/history/kept.py), a few
kilobytes where the saved run holds megabytes of raw samples. A file is
written whole or not at all, and never appended to. `python -m bench history
DIR` then reads the kept runs, alone or beside saved ones, with the same
results as from the saved runs themselves. With --pack N, once DIR holds N
or more single-run files they are merged into one pack file (bench/history/
store.py): thousands of small files are slow to open, a few packs are not.

Exit status: 0 kept; 2 a run is unusable (missing, unreadable, or without the
raw samples and paired reference a point needs); nothing is written for it.
Needs pyarrow (the `history` extra).
"""
from __future__ import annotations

import sys
from pathlib import Path

from bench import cli, runs, storage
from bench.exitcodes import Exit
from bench.runs import RunError


def parser():
    p = cli.parser("python -m bench keep", __doc__)
    p.add_argument("runs", nargs="*", metavar="RUN", help="saved runs: ids (0007), files or folders")
    p.add_argument("--into", type=Path, required=True, metavar="DIR",
                   help="the folder of kept runs (created if missing)")
    p.add_argument("--pack", type=int, metavar="N",
                   help="merge DIR's single-run files into one pack once there are N or more")
    p.add_argument("--storage", default=str(storage.DEFAULT_STORAGE),
                   help="pytest-benchmark's storage folder, for ids (default .benchmarks)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.runs and args.pack is None:
        print("error: name runs to keep, or --pack N", file=sys.stderr)
        return Exit.USAGE
    if args.pack is not None and args.pack < 1:
        print(f"error: --pack must be at least 1, got {args.pack}", file=sys.stderr)
        return Exit.USAGE
    try:
        from . import store
        from .kept import summarize
    except ImportError as exc:
        print(f"error: bench keep needs the history extra (pip install -e '.[history]'): {exc}",
              file=sys.stderr)
        return Exit.USAGE
    try:
        paths = list(dict.fromkeys(p for spec in args.runs
                                   for p in storage.resolve(spec, args.storage)))
        tables = []
        for path in paths:  # every run checked before any is written
            run = runs.load(path)
            runs.require_samples(run)
            tables.append((run.id, summarize(run)[0]))
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.USAGE
    if args.into.exists() and not args.into.is_dir():
        print(f"error: --into {args.into}: not a folder", file=sys.stderr)
        return Exit.USAGE
    try:
        written = [store.write(table, args.into, run_id) for run_id, table in tables]
    except OSError as exc:
        print(f"error: cannot write kept runs into {args.into}: {exc}", file=sys.stderr)
        return Exit.USAGE
    total = sum(p.stat().st_size for p in written)
    if written:
        print(f"kept {len(written)} run(s) into {args.into} ({total / 1000:.1f} kB)")
    if args.pack is not None:
        try:
            packed = store.pack(args.into, args.pack)
        except RunError as error:
            print(f"error: {error}", file=sys.stderr)
            return Exit.USAGE
        if packed:
            print(f"packed the single-run files into {packed}")
    return Exit.OK


if __name__ == "__main__":
    cli.exit_with(main, command="python -m bench keep", extra="history")
