"""The ladder report of a saved run: markdown tables and a log-log plot.

    python -m bench.report [RUN] [--out reports] [--storage .benchmarks]

RUN is a saved run's file or id (0001); without it, the newest whole run saved
for this machine under the storage folder (empty, truncated and partial runs
are skipped, with a warning). Every number comes from the run. ladder.md and
ladder.png are replaced together or not at all.
"""
from __future__ import annotations

import sys
from pathlib import Path

from bench import atomic, cli, runs, storage
from bench.exitcodes import Exit
from bench.runs import Run, RunError

from .ladder import markdown
from .plot import plot


def newest_run(folder: str | Path = storage.DEFAULT_STORAGE) -> Path:
    saved = storage.saved_runs(folder)
    whole = storage.usable(reversed(saved)) if saved else []
    if not whole:
        raise RunError(f"no {'whole ' if saved else ''}saved run under {folder}/: run the "
                       "benchmarks with --benchmark-autosave first (python -m bench run does)")
    return whole[0].source


def notes(run: Run) -> str:
    """What the tables do not show: clock faults dropped, benchmarks missing."""
    lines = []
    faulty = [b for b in run.benchmarks.values() if b.dropped]
    if faulty:
        lines.append(f"Clock faults: {run.dropped} round(s) dropped in {len(faulty)} "
                     "benchmark(s) (a time <= 0 or not finite, dropped with its paired half).")
    if run.partial:
        lines.append(f"Partial run: {storage.partial_note(run)}.")
    return "".join(f"\n{line}\n" for line in lines)


def write_report(run_path: Path, out: Path) -> tuple[Path, Path]:
    run = runs.load(run_path)
    if run.partial:
        storage.warn(f"{run_path}: {storage.partial_note(run)}")
    out.mkdir(parents=True, exist_ok=True)
    text, png = out / "ladder.md", out / "ladder.png"
    with atomic.together(text, png) as (text_partial, png_partial):
        text_partial.write_text(markdown(run) + notes(run), encoding="utf-8")
        plot(run, png_partial)
    return text, png


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m bench.report", __doc__)
    parser.add_argument("run", nargs="?", help="saved run: file or id (default: the newest)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    parser.add_argument("--storage", default=str(storage.DEFAULT_STORAGE),
                        help="pytest-benchmark's storage folder (default .benchmarks)")
    args = parser.parse_args(argv)
    try:
        if args.run:
            paths = storage.resolve(args.run, args.storage)
            if len(paths) != 1:
                raise RunError(f"{args.run} names {len(paths)} runs; the report reads one")
            path = paths[0]
        else:
            path = newest_run(args.storage)
        text, png = write_report(path, args.out)
    except (RunError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.USAGE
    except OSError as error:
        print(f"error: cannot write the report in {args.out}: {error}", file=sys.stderr)
        return Exit.USAGE
    print(f"wrote {text} and {png} from {path}")
    return Exit.OK


if __name__ == "__main__":
    cli.exit_with(main, command="python -m bench.report", extra="report")
