"""The ladder report of a saved run: markdown tables and a log-log plot.

    python -m bench.report [RUN] [--out reports] [--storage .benchmarks]

RUN is a saved run's file or id (0001); without it, the newest run saved for
this machine under the storage folder. Every number comes from the run.
"""
from __future__ import annotations

import sys
from pathlib import Path

from bench import cli, runs, storage
from bench.runs import RunError

from .ladder import markdown
from .plot import plot


def newest_run(folder: str | Path = storage.DEFAULT_STORAGE) -> Path:
    saved = storage.saved_runs(folder)
    if not saved:
        raise RunError(f"no saved run under {folder}/: run the benchmarks with "
                       "--benchmark-autosave first (python -m bench run does)")
    return saved[-1]


def write_report(run_path: Path, out: Path) -> tuple[Path, Path]:
    run = runs.load(run_path)
    out.mkdir(parents=True, exist_ok=True)
    text = out / "ladder.md"
    text.write_text(markdown(run), encoding="utf-8")
    return text, plot(run, out / "ladder.png")


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
        return 2
    print(f"wrote {text} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
